//! A short fan-out against the bare broadcaster, over real loopback sockets: nothing may be lost.

use pusherable_bench::scenario::fan_out::{fan_out, FanOutArgs};
use pusherable_bench::scenario::Run;
use pusherable_bench::Target;

fn metric(report: &pusherable_bench::Report, name: &str) -> f64 {
    report
        .metrics
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.value)
        .unwrap_or_else(|| panic!("no {name} in {report:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_against_the_bare_broadcaster_loses_nothing() {
    let bare = pusherable_bench::bare::spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let target = Target::new("127.0.0.1", bare.local_addr().port(), "1", "key", "secret").unwrap();
    let run = Run::new(target);
    let args = FanOutArgs {
        connections: 200,
        rate: 50.0,
        duration: 5,
        ..Default::default()
    };
    let report = fan_out(&run, &args).await.unwrap();
    assert_eq!(metric(&report, "connections_live"), 200.0, "{report:#?}");
    assert_eq!(metric(&report, "events_triggered"), 250.0, "{report:#?}");
    assert_eq!(metric(&report, "deliveries"), 200.0 * 250.0, "{report:#?}");
    assert_eq!(metric(&report, "lost"), 0.0, "{report:#?}");
    assert_eq!(metric(&report, "duplicates"), 0.0, "{report:#?}");
    assert_eq!(bare.dropped(), 0);
    bare.shutdown().await;
}
