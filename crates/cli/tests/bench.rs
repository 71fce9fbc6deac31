//! `pusherable bench`: the load generator's scenarios, run from the pusherable command.

mod common;

use common::{failed, pusherable, run};
use pusherable_test_support::{config, pusher_url, start};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_runs_a_scenario_and_writes_its_report() {
    let server = start(config()).await;
    let json =
        std::env::temp_dir().join(format!("pusherable-cli-bench-{}.json", std::process::id()));
    let output = run(
        pusherable(["bench", "--url", &pusher_url(&server), "--quiet", "--json"])
            .arg(&json)
            .args(["connections", "--connections", "20"]),
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    let reports: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    assert_eq!(reports.as_array().map(Vec::len), Some(1), "{reports}");
    assert_eq!(reports[0]["scenario"], "connections", "{reports}");

    // The load generator only targets this machine.
    let output = run(
        pusherable(["bench", "--url", "http://k:s@192.0.2.1:6001/apps/1"]).args([
            "connections",
            "--connections",
            "1",
        ]),
    )
    .await;
    let err = failed(&output, 2);
    assert!(err.contains("loopback"), "{err}");
    server.shutdown().await;
}
