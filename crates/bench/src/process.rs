//! What `/proc` says about the server's processes: resident memory and CPU time.

use std::time::Duration;

/// A reading of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Resident set size (`VmRSS`), in KiB.
    pub rss_kib: u64,
    /// User plus system CPU time so far.
    pub cpu: Duration,
}

/// Why a process could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read /proc/{pid}: {why}")]
pub struct ProcessError {
    /// The process id.
    pub pid: u32,
    /// What went wrong.
    pub why: String,
}

/// Reads `VmRSS` and the CPU time of process `pid`.
///
/// ```
/// let me = pusherable_bench::process::sample(std::process::id())?;
/// assert!(me.rss_kib > 0);
/// # Ok::<(), pusherable_bench::process::ProcessError>(())
/// ```
pub fn sample(pid: u32) -> Result<Sample, ProcessError> {
    let err = |why: String| ProcessError { pid, why };
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| err(e.to_string()))?;
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| err(e.to_string()))?;
    let rss_kib = parse_rss(&status).ok_or_else(|| err("no VmRSS line".into()))?;
    let ticks = parse_cpu_ticks(&stat).ok_or_else(|| err("unreadable stat line".into()))?;
    Ok(Sample {
        rss_kib,
        cpu: ticks_to_duration(ticks),
    })
}

/// Reads every process of a server of several nodes and sums their memory and CPU time: what
/// the server as a whole holds and spends. `None` when `pids` is empty.
///
/// ```
/// let me = std::process::id();
/// let one = pusherable_bench::process::sample(me)?;
/// let twice = pusherable_bench::process::sample_all(&[me, me])?.unwrap();
/// assert!(twice.rss_kib >= one.rss_kib);
/// assert!(pusherable_bench::process::sample_all(&[])?.is_none());
/// # Ok::<(), pusherable_bench::process::ProcessError>(())
/// ```
pub fn sample_all(pids: &[u32]) -> Result<Option<Sample>, ProcessError> {
    let mut total: Option<Sample> = None;
    for &pid in pids {
        let s = sample(pid)?;
        let sum = total.get_or_insert(Sample {
            rss_kib: 0,
            cpu: Duration::ZERO,
        });
        sum.rss_kib = sum.rss_kib.saturating_add(s.rss_kib);
        sum.cpu = sum.cpu.saturating_add(s.cpu);
    }
    Ok(total)
}

/// `/proc` counts CPU time in USER_HZ ticks, which Linux fixes at 100 per second.
fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_millis(ticks.saturating_mul(10))
}

fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime: fields 14 and 15, counted after the parenthesised command name, which may
/// itself hold spaces and parentheses.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(
            parse_rss("Name:\tx\nVmRSS:\t  1234 kB\nVmSwap: 0 kB\n"),
            Some(1234)
        );
        assert_eq!(parse_rss("Name:\tx\n"), None);
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }
}
