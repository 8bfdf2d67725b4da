//! packet walk (stub)
