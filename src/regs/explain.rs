//! What an errno means when opening or mapping /dev/mem (or a register
//! file), in words an embedded engineer can act on.

use nix::errno::Errno;

/// Hint for a failed open of the register device or file.
/// `phys`: it is the physical-memory device (/dev/mem), not a --file.
pub(crate) fn open(errno: Errno, phys: bool, write: bool) -> String {
    match errno {
        Errno::ENOENT if phys => "this kernel has no /dev/mem: it was built without CONFIG_DEVMEM \
             (on OpenWrt enable KERNEL_DEVMEM in the kernel config; stock images do not have it). \
             For a device with a UIO driver or a PCI BAR use --file /dev/uioN or \
             --file /sys/bus/pci/devices/.../resourceN"
            .into(),
        Errno::ENOENT => "no such file".into(),
        Errno::EACCES => {
            if phys {
                "/dev/mem needs root (or CAP_SYS_RAWIO and read/write permission on the device node)".into()
            } else if write {
                "no write permission on this file: run as root or check its mode".into()
            } else {
                "no read permission on this file: run as root or check its mode".into()
            }
        }
        Errno::EPERM if phys => {
            "opening /dev/mem needs CAP_SYS_RAWIO (run as root), and kernel lockdown \
             (secure boot, lockdown=integrity) forbids it entirely"
                .into()
        }
        Errno::EPERM => "the kernel refused access to this file (capability or lockdown)".into(),
        Errno::EROFS => "the file is on a read-only filesystem; a write is impossible".into(),
        Errno::ENXIO | Errno::ENODEV => "no device behind this node (driver not loaded?)".into(),
        Errno::EISDIR => "this is a directory; give a device node or a file".into(),
        _ => "unexpected error opening the register device".into(),
    }
}

/// Hint for a failed mmap of `len` bytes at `base` (physical address or
/// file offset).
pub(crate) fn map(errno: Errno, phys: bool, base: u64, len: usize) -> String {
    match errno {
        Errno::EPERM | Errno::EACCES if phys => format!(
            "the kernel refuses to map physical 0x{base:X}: with CONFIG_STRICT_DEVMEM / CONFIG_IO_STRICT_DEVMEM \
             (set in Debian and OpenWrt kernels) /dev/mem only maps ranges no driver has claimed \
             (see /proc/iomem), and never RAM. Boot with `iomem=relaxed` on the kernel command line, \
             or unbind the driver that owns the range"
        ),
        Errno::EPERM | Errno::EACCES => {
            "the mapping was refused: the file is not open for writing, or it does not allow shared mappings".into()
        }
        Errno::EINVAL if phys => format!(
            "physical 0x{base:X} (+{len} bytes) is outside what this CPU or kernel can map through /dev/mem"
        ),
        Errno::EINVAL => format!(
            "the file cannot be mapped at offset 0x{base:X} (+{len} bytes): beyond the resource, or not page-aligned"
        ),
        Errno::ENODEV => "this file cannot be memory-mapped (it is not a device memory file)".into(),
        Errno::ENXIO => format!("nothing to map at 0x{base:X} in this file (for UIO: no such map)"),
        Errno::ENOMEM => "no room in the address space for the mapping".into(),
        Errno::EOVERFLOW => format!("0x{base:X} does not fit this system's file offset type"),
        _ => "unexpected mmap error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devmem_explanations() {
        assert!(open(Errno::ENOENT, true, false).contains("CONFIG_DEVMEM"));
        assert!(open(Errno::ENOENT, true, false).contains("KERNEL_DEVMEM"));
        assert!(!open(Errno::ENOENT, false, false).contains("CONFIG_DEVMEM"));
        assert!(open(Errno::EACCES, true, false).contains("root"));
        assert!(open(Errno::EACCES, true, false).contains("CAP_SYS_RAWIO"));
        assert!(open(Errno::EPERM, true, true).contains("CAP_SYS_RAWIO"));
        let m = map(Errno::EPERM, true, 0x0900_0000, 4096);
        assert!(m.contains("STRICT_DEVMEM"), "{m}");
        assert!(m.contains("iomem=relaxed"), "{m}");
        assert!(m.contains("0x9000000"), "{m}");
        assert!(map(Errno::ENODEV, false, 0, 1).contains("cannot be memory-mapped"));
    }
}
