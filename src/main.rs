// mimalloc instead of the C library's allocator: glibc's spent about a sixth of the
// server's CPU in malloc and free under load (`perf`, reads benchmark), and the image's
// musl allocator is slower still.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    serene::cli::run(std::env::args().skip(1).collect())
}
