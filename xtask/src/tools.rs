//! Running commands, and preparing the tools that suites need.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// Where things are in the repository.
pub(crate) struct Workspace {
    pub(crate) root: PathBuf,
    /// The `cargo` that started us, so that nested builds use the same toolchain.
    cargo: OsString,
}

impl Workspace {
    pub(crate) fn locate() -> Workspace {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        Workspace { root, cargo }
    }

    pub(crate) fn cargo(&self) -> Command {
        let mut command = Command::new(&self.cargo);
        command.current_dir(&self.root);
        command
    }

    /// The server binary the compatibility suites start: `PUSHERABLE_BIN` when
    /// set, else the debug build in the target directory.
    pub(crate) fn server_binary(&self) -> PathBuf {
        if let Some(explicit) = std::env::var_os("PUSHERABLE_BIN") {
            return self.root.join(explicit);
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| self.root.join("target"), |dir| self.root.join(dir));
        target
            .join("debug")
            .join(format!("pusherable{}", std::env::consts::EXE_SUFFIX))
    }

    /// `name` under the debug build's directory (`target/debug`, or `$CARGO_TARGET_DIR/debug`).
    pub(crate) fn debug_artifact(&self, name: &str) -> PathBuf {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| self.root.join("target"), |dir| self.root.join(dir));
        let mut path = target.join("debug");
        path.push(name);
        path
    }

    pub(crate) fn compat_dir(&self) -> PathBuf {
        self.root.join("tests").join("compat")
    }
}

/// Runs `command` with the terminal as its output and fails unless it exits 0.
pub(crate) fn run(command: &mut Command) -> Result<(), String> {
    let shown = describe(command);
    println!("$ {shown}");
    let _ = std::io::stdout().flush();
    let status = command
        .status()
        .map_err(|err| format!("could not start `{shown}`: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Runs `command` and returns what it printed on stdout; fails unless it exits 0.
pub(crate) fn output(command: &mut Command) -> Result<String, String> {
    let shown = describe(command);
    let output = command
        .output()
        .map_err(|err| format!("could not start `{shown}`: {err}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{shown}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    if let Some(dir) = command.get_current_dir() {
        text.push_str(&format!("   (in {})", dir.display()));
    }
    text
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|meta| meta.modified()).ok()
}

/// True when `product` is missing or older than `source`: `product` must be
/// made again.
pub(crate) fn is_stale(product: Option<SystemTime>, source: Option<SystemTime>) -> bool {
    match (product, source) {
        (None, _) => true,
        (Some(made), Some(changed)) => made < changed,
        (Some(_), None) => false,
    }
}

/// Runs `npm ci` in `dir` when its node_modules is missing or older than its
/// package-lock.json.
pub(crate) fn ensure_node_modules(dir: &Path) -> Result<(), String> {
    // npm writes this file on every install, so its age is the install's age.
    let installed = modified(&dir.join("node_modules").join(".package-lock.json"));
    let locked = modified(&dir.join("package-lock.json"));
    if !is_stale(installed, locked) {
        println!("node modules in {} are up to date", dir.display());
        return Ok(());
    }
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir))
}

/// The Chromium the browser tests drive: `CHROMIUM_PATH`, or Debian's
/// `/usr/bin/chromium`, installed with apt-get when it is missing (the tests
/// never download a browser of their own).
pub(crate) fn ensure_chromium() -> Result<PathBuf, String> {
    if let Some(explicit) = std::env::var_os("CHROMIUM_PATH") {
        return Ok(PathBuf::from(explicit));
    }
    let chromium = PathBuf::from("/usr/bin/chromium");
    if chromium.exists() {
        println!("chromium is installed at {}", chromium.display());
        return Ok(chromium);
    }
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(chromium)
}

/// Makes sure a Redis server answers on 127.0.0.1:6379, where the cluster suites meet, and
/// that `redis-server` is installed for the tests that start one of their own. The machines
/// of this project start Redis themselves; elsewhere it is installed and started here.
pub(crate) fn ensure_redis() -> Result<(), String> {
    let answers = || std::net::TcpStream::connect(("127.0.0.1", 6379)).is_ok();
    let installed = || {
        Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok()
    };
    if !installed() {
        run(Command::new("apt-get").arg("update"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "redis-server"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    if answers() {
        println!("redis answers on 127.0.0.1:6379");
        return Ok(());
    }
    run(Command::new("redis-server").args([
        "--port",
        "6379",
        "--bind",
        "127.0.0.1",
        "--daemonize",
        "yes",
        "--save",
        "",
    ]))?;
    for _ in 0..100 {
        if answers() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err("redis-server started but does not answer on 127.0.0.1:6379".into())
}

/// Installs cargo-fuzz from crates.io when `cargo fuzz` is missing. It is built from source
/// with the toolchain at hand; the fuzz targets need no nightly toolchain (see `fuzz.rs`).
pub(crate) fn ensure_cargo_fuzz(workspace: &Workspace) -> Result<(), String> {
    let installed = workspace
        .cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if installed {
        println!("cargo fuzz is installed");
        return Ok(());
    }
    run(workspace.cargo().args([
        "install",
        "cargo-fuzz",
        "--locked",
        "--version",
        CARGO_FUZZ_VERSION,
    ]))
}

/// The cargo-fuzz that [`ensure_cargo_fuzz`] installs: the one the fuzz targets were written
/// and checked with.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Makes sure `dir/.venv` exists with exactly `dir/requirements.txt` installed,
/// and returns the venv's Python.
pub(crate) fn ensure_python_venv(dir: &Path) -> Result<PathBuf, String> {
    let venv = dir.join(".venv");
    let python = venv.join("bin").join("python");
    let requirements = dir.join("requirements.txt");
    // A copy of the requirements the venv was made from: when it matches the
    // file, nothing needs installing.
    let stamp = venv.join("installed-requirements.txt");

    let wanted = fs::read(&requirements)
        .map_err(|err| format!("cannot read {}: {err}", requirements.display()))?;
    if python.exists() && fs::read(&stamp).ok().as_deref() == Some(wanted.as_slice()) {
        println!("python venv in {} is up to date", venv.display());
        return Ok(python);
    }

    if !python.exists() {
        let interpreter = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
        run(Command::new(interpreter)
            .args(["-m", "venv", "--clear"])
            .arg(&venv))?;
    }
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements))?;
    fs::write(&stamp, &wanted).map_err(|err| format!("cannot write {}: {err}", stamp.display()))?;
    Ok(python)
}

#[cfg(test)]
mod tests {
    use super::is_stale;
    use std::time::{Duration, SystemTime};

    #[test]
    fn staleness() {
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let new = old + Duration::from_secs(1);
        let check = |product, source, expected| assert_eq!(is_stale(product, source), expected);
        check(None, Some(new), true);
        check(None, None, true);
        check(Some(old), Some(new), true);
        check(Some(new), Some(old), false);
        check(Some(new), Some(new), false);
        check(Some(new), None, false);
    }
}
