//! Fixture tests: filled below.
