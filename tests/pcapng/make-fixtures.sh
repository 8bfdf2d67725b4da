#!/bin/sh
# Builds the pcapng fixtures under tests/pcapng/fixtures/ with Wireshark's own
# tools (editcap, mergecap, capinfos, tshark) and records what those tools
# say about each file, for the unit tests in src/pcapng/fixtures.rs:
#   NAME.pcapng    the capture
#   NAME.capinfos  `capinfos -M` (packets, interfaces, link types, snaplens, ...)
#   NAME.frames    `tshark -T fields`: epoch time, length, captured length, interface
#
# Usage: tests/pcapng/make-fixtures.sh   (from the repository root; installs
# tshark/wireshark-common with apt-get when missing). The outputs are committed;
# rerun only to change them.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/tests/pcapng/fixtures"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

need() {
    for t in editcap mergecap capinfos tshark; do
        command -v "$t" >/dev/null 2>&1 && continue
        echo "installing tshark and wireshark-common (for $t)" >&2
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tshark wireshark-common >&2
        return
    done
}
need
command -v python3 >/dev/null 2>&1 || { echo "python3 is needed" >&2; exit 1; }

# A small Ethernet/UDP pcap from mmkit itself (deterministic).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/mmkit-wt-pcapng}"
(cd "$root" && cargo build -q)
"$CARGO_TARGET_DIR/debug/mmkit" gen "$work/eth.pcap" --layout pcap --size 8K --seed 1 -f >/dev/null
"$CARGO_TARGET_DIR/debug/mmkit" gen "$work/eth2.pcap" --layout pcap --size 6K --seed 2 -f >/dev/null

# Python helpers: a nanosecond pcap from a microsecond one, an ISB appended to a
# pcapng file, and a byte swap of a whole little-endian pcapng file.
cat >"$work/helpers.py" <<'EOF'
import struct, sys

def ns_pcap(src, dst):
    d = bytearray(open(src, 'rb').read())
    assert struct.unpack_from('<I', d, 0)[0] == 0xa1b2c3d4
    struct.pack_into('<I', d, 0, 0xa1b23c4d)
    off, n = 24, 0
    while off < len(d):
        sec, usec, incl, orig = struct.unpack_from('<IIII', d, off)
        struct.pack_into('<I', d, off + 4, usec * 1000 + 123 + n)
        off += 16 + incl
        n += 1
    open(dst, 'wb').write(d)

def opt(code, val):
    pad = (-len(val)) % 4
    return struct.pack('<HH', code, len(val)) + val + b'\0' * pad

def append_isb(path, iface, ts):
    # Interface Statistics Block: starttime (2), endtime (3), ifrecv (4), ifdrop (5).
    body = struct.pack('<III', iface, ts >> 32, ts & 0xffffffff)
    body += opt(2, struct.pack('<II', (ts - 5000) >> 32, (ts - 5000) & 0xffffffff))
    body += opt(3, struct.pack('<II', ts >> 32, ts & 0xffffffff))
    body += opt(4, struct.pack('<Q', 9)) + opt(5, struct.pack('<Q', 1)) + opt(0, b'')
    n = len(body) + 12
    open(path, 'ab').write(struct.pack('<II', 5, n) + body + struct.pack('<I', n))

# Options whose values are numbers (swapped), per block type; others are bytes.
NUMERIC = {
    1: {8: 8, 14: 8},                                   # if_speed, if_tsoffset
    5: {2: 4, 3: 4, 4: 8, 5: 8, 6: 8, 7: 8, 8: 8},     # isb_* (times as two u32)
    6: {2: 4, 4: 8, 5: 8, 6: 4},                        # epb_flags, dropcount, packetid, queue
}

def swap_opts(d, off, end, kind):
    out = b''
    while off + 4 <= end:
        code, ln = struct.unpack_from('<HH', d, off)
        val = d[off + 4:off + 4 + ln]
        width = NUMERIC.get(kind, {}).get(code)
        if width == 4 and ln % 4 == 0:
            val = b''.join(struct.pack('>I', x) for x in struct.unpack('<%dI' % (ln // 4), val))
        elif width == 8 and ln == 8:
            val = struct.pack('>Q', struct.unpack('<Q', val)[0])
        out += struct.pack('>HH', code, ln) + val + b'\0' * ((-ln) % 4)
        off += 4 + ln + (-ln) % 4
        if code == 0:
            break
    return out

def be(src, dst):
    d = open(src, 'rb').read()
    out, off = b'', 0
    while off < len(d):
        kind, n = struct.unpack_from('<II', d, off)
        b, end = d[off:off + n], n - 4
        if kind == 0x0A0D0D0A:
            assert struct.unpack_from('<I', b, 8)[0] == 0x1A2B3C4D
            fixed = struct.pack('>IHHq', 0x1A2B3C4D, *struct.unpack_from('<HHq', b, 12))
            body = fixed + swap_opts(b, 24, end, kind)
        elif kind == 1:
            body = struct.pack('>HHI', *struct.unpack_from('<HHI', b, 8)) + swap_opts(b, 16, end, kind)
        elif kind == 6:
            iface, hi, lo, cap, orig = struct.unpack_from('<IIIII', b, 8)
            dlen = cap + (-cap) % 4
            body = struct.pack('>IIIII', iface, hi, lo, cap, orig) + b[28:28 + dlen]
            body += swap_opts(b, 28 + dlen, end, kind)
        elif kind == 5:
            body = struct.pack('>III', *struct.unpack_from('<III', b, 8)) + swap_opts(b, 20, end, kind)
        elif kind == 10:
            st, ln = struct.unpack_from('<II', b, 8)
            dlen = ln + (-ln) % 4
            body = struct.pack('>II', st, ln) + b[16:16 + dlen] + swap_opts(b, 16 + dlen, end, kind)
        else:
            raise SystemExit('cannot swap block type %#x' % kind)
        assert len(body) + 12 == n, (kind, len(body), n)
        out += struct.pack('>II', kind, n) + body + struct.pack('>I', n)
        off += n
    open(dst, 'wb').write(out)

cmd = sys.argv[1]
if cmd == 'ns':
    ns_pcap(sys.argv[2], sys.argv[3])
elif cmd == 'isb':
    append_isb(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
elif cmd == 'be':
    be(sys.argv[2], sys.argv[3])
EOF
py() { python3 "$work/helpers.py" "$@"; }

rm -rf "$out"
mkdir -p "$out"

# 1. Plain conversion: one Ethernet interface, microsecond resolution.
editcap -F pcapng "$work/eth.pcap" "$out/single.pcapng"

# 2. Two interfaces with different link types and resolutions: Ethernet (µs)
#    merged with Raw IP (ns, if_tsresol 9).
py ns "$work/eth2.pcap" "$work/eth2-ns.pcap"
editcap -T rawip -F pcapng "$work/eth2-ns.pcap" "$work/raw-ns.pcapng"
mergecap -F pcapng -w "$out/two-interfaces.pcapng" "$out/single.pcapng" "$work/raw-ns.pcapng"

# 3. Two sections: two pcapng files concatenated.
cat "$out/single.pcapng" "$out/two-interfaces.pcapng" >"$out/multi-section.pcapng"

# 4. A Decryption Secrets Block (TLS key log).
printf 'CLIENT_RANDOM %064d %096d\n' 1 2 >"$work/keys.txt"
editcap --inject-secrets "tls,$work/keys.txt" "$out/single.pcapng" "$out/secrets.pcapng"

# 5. Interface Statistics Blocks: appended by hand (editcap does not write
#    them), then a live loopback capture by tshark when this machine allows one.
cp "$out/two-interfaces.pcapng" "$out/isb.pcapng"
py isb "$out/isb.pcapng" 0 1700000000004000
py isb "$out/isb.pcapng" 1 1700000000005000000
timeout 10 tshark -q -i lo -a duration:4 -F pcapng -w "$work/live.pcapng" >/dev/null 2>&1 &
sleep 2
python3 -c 'import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [(s.sendto(b"x" * i, ("127.0.0.1", 9)), time.sleep(0.1)) for i in range(1, 6)]'
wait || true
if [ -s "$work/live.pcapng" ] && capinfos -M "$work/live.pcapng" | grep -q 'Number of stat entries = [1-9]'; then
    cp "$work/live.pcapng" "$out/live-isb.pcapng"
else
    echo "no live capture here: live-isb.pcapng not made" >&2
fi

# 6. A big-endian section: the two-interface file byte-swapped.
py be "$out/two-interfaces.pcapng" "$out/big-endian.pcapng"

# 7. Mixed byte orders in one file: little-endian section then big-endian one.
cat "$out/secrets.pcapng" "$out/big-endian.pcapng" >"$out/mixed-endian.pcapng"

for f in "$out"/*.pcapng; do
    base=${f%.pcapng}
    chmod 644 "$f"
    capinfos -M "$f" | sed 's|^File name: .*|File name: '"$(basename "$f")"'|' >"$base.capinfos"
    tshark -r "$f" -T fields -e frame.time_epoch -e frame.len -e frame.cap_len \
        -e frame.interface_id 2>/dev/null >"$base.frames"
done
ls -l "$out"
