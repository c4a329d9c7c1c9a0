//! The `raftsim` binary: a thin shell. Every command lives in the library ([`raftsim::cli`]),
//! where tests reach it in-process.

fn main() -> std::process::ExitCode {
    raftsim::cli::main()
}
