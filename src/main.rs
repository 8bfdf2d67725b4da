//! The `mmkit` binary: parse the command line, dispatch, exit with the code.
//! Everything else lives in the library.

fn main() {
    let top = match mmkit::cli::parse_env() {
        Ok(top) => top,
        Err(code) => std::process::exit(code),
    };
    std::process::exit(mmkit::cli::dispatch(top));
}
