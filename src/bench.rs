//! The read-vs-mmap experiment behind `mmkit bench`. (Stub: benchmark issue.)
