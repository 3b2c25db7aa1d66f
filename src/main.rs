fn main() -> std::process::ExitCode {
    serene::cli::run(std::env::args().skip(1).collect())
}
