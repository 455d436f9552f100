//! Standard output that tolerates a reader going away: `onevisit tasks list | head` closes the
//! pipe early, and the command then ends quietly, as other Unix tools do, instead of panicking.

use std::io::Write;

/// The exit status of a process whose reader closed the pipe (128 + SIGPIPE, as the shell shows
/// for tools the signal ends).
const CLOSED_PIPE_EXIT: i32 = 141;
/// The exit status when standard output cannot be written for another reason (EX_IOERR).
const IO_ERROR_EXIT: i32 = 74;

/// Writes `args` to standard output (with `newline`), ending the process if it cannot.
pub(crate) fn write(args: std::fmt::Arguments<'_>, newline: bool) {
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| if newline { out.write_all(b"\n") } else { Ok(()) });
    if let Err(e) = written.and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(CLOSED_PIPE_EXIT);
        }
        eprintln!("错误：无法写入标准输出：{e}");
        std::process::exit(IO_ERROR_EXIT);
    }
}
