//! Test builders for pcapng blocks, in either byte order.

use super::{CUSTOM_COPY, DSB, EPB, Endian, IDB, ISB, NRB, PB, SHB, SPB};

fn u16b(e: Endian, v: u16) -> [u8; 2] {
    match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    }
}

fn u32b(e: Endian, v: u32) -> [u8; 4] {
    match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    }
}

/// Options list bytes (values padded to 4) ending with opt_endofopt; empty
/// when there are no options.
pub fn opts(e: Endian, list: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    if list.is_empty() {
        return v;
    }
    for (code, val) in list {
        v.extend_from_slice(&u16b(e, *code));
        v.extend_from_slice(&u16b(e, val.len() as u16));
        v.extend_from_slice(val);
        v.resize(v.len().div_ceil(4) * 4, 0);
    }
    v.extend_from_slice(&[0, 0, 0, 0]);
    v
}

/// A whole block: header, body padded to 4, trailer.
pub fn block(e: Endian, block_type: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (padded + 12) as u32;
    let mut v = u32b(e, block_type).to_vec();
    v.extend_from_slice(&u32b(e, total));
    v.extend_from_slice(body);
    v.resize(8 + padded, 0);
    v.extend_from_slice(&u32b(e, total));
    v
}

pub fn shb(e: Endian, section_len: i64, o: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = u32b(e, 0x1A2B_3C4D).to_vec();
    b.extend_from_slice(&u16b(e, 1));
    b.extend_from_slice(&u16b(e, 0));
    b.extend_from_slice(&e.u64_bytes(section_len as u64));
    b.extend(opts(e, o));
    block(e, SHB, &b)
}

pub fn idb(e: Endian, linktype: u16, snaplen: u32, o: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = u16b(e, linktype).to_vec();
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&u32b(e, snaplen));
    b.extend(opts(e, o));
    block(e, IDB, &b)
}

fn ts_words(e: Endian, ts: u64) -> Vec<u8> {
    let mut b = u32b(e, (ts >> 32) as u32).to_vec();
    b.extend_from_slice(&u32b(e, ts as u32));
    b
}

pub fn epb(e: Endian, iface: u32, ts: u64, data: &[u8], o: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = u32b(e, iface).to_vec();
    b.extend(ts_words(e, ts));
    b.extend_from_slice(&u32b(e, data.len() as u32));
    b.extend_from_slice(&u32b(e, data.len() as u32 + 10));
    b.extend_from_slice(data);
    b.resize(b.len().div_ceil(4) * 4, 0);
    b.extend(opts(e, o));
    block(e, EPB, &b)
}

pub fn pb(e: Endian, iface: u16, ts: u64, data: &[u8]) -> Vec<u8> {
    let mut b = u16b(e, iface).to_vec();
    b.extend_from_slice(&u16b(e, 0));
    b.extend(ts_words(e, ts));
    b.extend_from_slice(&u32b(e, data.len() as u32));
    b.extend_from_slice(&u32b(e, data.len() as u32));
    b.extend_from_slice(data);
    block(e, PB, &b)
}

pub fn spb(e: Endian, orig_len: u32, data: &[u8]) -> Vec<u8> {
    let mut b = u32b(e, orig_len).to_vec();
    b.extend_from_slice(data);
    block(e, SPB, &b)
}

pub fn isb(e: Endian, iface: u32, ts: u64) -> Vec<u8> {
    let mut b = u32b(e, iface).to_vec();
    b.extend(ts_words(e, ts));
    block(e, ISB, &b)
}

pub fn dsb(e: Endian, secrets: &[u8]) -> Vec<u8> {
    let mut b = u32b(e, 0x544c_534b).to_vec(); // TLS key log
    b.extend_from_slice(&u32b(e, secrets.len() as u32));
    b.extend_from_slice(secrets);
    block(e, DSB, &b)
}

pub fn nrb(e: Endian) -> Vec<u8> {
    // One IPv4 record (type 1, 4 address bytes + "h\0"), then nrb_record_end.
    let mut b = u16b(e, 1).to_vec();
    b.extend_from_slice(&u16b(e, 6));
    b.extend_from_slice(&[10, 0, 0, 1, b'h', 0, 0, 0]);
    b.extend_from_slice(&[0, 0, 0, 0]);
    block(e, NRB, &b)
}

pub fn custom(e: Endian, block_type: u32, data: &[u8]) -> Vec<u8> {
    let mut b = u32b(e, 32473).to_vec(); // PEN reserved for examples
    b.extend_from_slice(data);
    block(e, block_type, &b)
}

/// A custom block that may be copied.
pub fn custom_copy(e: Endian) -> Vec<u8> {
    custom(e, CUSTOM_COPY, b"keep")
}
