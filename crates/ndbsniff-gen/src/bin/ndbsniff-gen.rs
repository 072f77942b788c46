//! `ndbsniff-gen`: writes synthetic captures for ndbsniff's tests and benchmarks
//! (`ndbsniff-gen --help`). Everything is in the library, [`ndbsniff_gen::cli`].

fn main() -> std::process::ExitCode {
    ndbsniff_gen::cli::main()
}
