//! `mmkit copy`: every method, the pread/pwrite fallback, and inputs that
//! are not regular files (devices, /proc files, pipes, FIFOs).

mod common;
use common::*;

/// Deterministic test bytes.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn copy_file_range_fallback_hook_copies_identically() {
    let d = TempDir::new("copy-fallback");
    let data = pattern(3 << 20 | 12345);
    std::fs::write(d.join("in"), &data).unwrap();
    let o = mmkit()
        .env("MMKIT_NO_COPY_RANGE", "1")
        .env("RUST_LOG", "debug")
        .args(["copy", &d.s("in"), &d.s("out")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("falling back"), "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("out")).unwrap(), data);
    for m in ["read", "mmap", "kernel"] {
        let out = d.s(&format!("out-{m}"));
        let o = run(&["copy", "--method", m, &d.s("in"), &out]);
        assert!(o.status.success(), "{m}: {}", stderr(&o));
        assert_eq!(std::fs::read(&out).unwrap(), data, "{m}");
    }
}
