//! `refprog <program> [args]`: runs one reference program, like `conformance ref`. It exists
//! so that this crate's own tests drive the real programs as processes without depending on
//! the conformance binary.

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!(
            "usage: refprog <program> [args]; programs: {}",
            reference::PROGRAMS.join(", ")
        );
        std::process::exit(2);
    };
    let rest: Vec<_> = args.collect();
    let status = reference::run(&program.to_string_lossy(), &rest);
    std::process::exit(status);
}
