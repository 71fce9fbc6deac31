//! Every test suite of the project, in the order `cargo xtask test` runs them.
//!
//! A new suite (the browser suite, for one) is one more entry in [`SUITES`]
//! and a function that prepares its tools and runs it.

use std::process::Command;

use crate::tools::{self, Workspace};
use crate::{fuzz, soak};

pub(crate) struct Suite {
    pub(crate) name: &'static str,
    pub(crate) about: &'static str,
    /// Whether the suite drives the `pusherable` binary, which is then built first.
    pub(crate) needs_server: bool,
    pub(crate) run: fn(&Workspace) -> Result<(), String>,
}

pub(crate) const SUITES: &[Suite] = &[
    Suite {
        name: "rust",
        about: "cargo test --workspace: unit, integration and doc tests of every crate",
        needs_server: false,
        run: rust,
    },
    Suite {
        name: "compat-node",
        about: "pusher-js 8 and npm pusher 5 against the server (tests/compat/node)",
        needs_server: true,
        run: compat_node,
    },
    Suite {
        name: "compat-cluster",
        about: "the pusher-js and npm pusher suite against 3 nodes on Redis, every connection and REST call round-robined",
        needs_server: true,
        run: compat_cluster,
    },
    Suite {
        name: "compat-python",
        about: "PyPI pusher 3.3.4 against the server, with pusher-js as the browser (tests/compat/python)",
        needs_server: true,
        run: compat_python,
    },
    Suite {
        name: "fuzz",
        about: "every fuzz target of fuzz/ under cargo fuzz for 10 s, after its seeds (docs/fuzzing.md)",
        needs_server: false,
        run: fuzz::suite,
    },
    Suite {
        name: "soak",
        about: "1,000 connections under traffic and churn for a minute; the server's memory must stay flat",
        needs_server: true,
        run: soak::suite,
    },
    Suite {
        name: "e2e",
        about: "headless Chromium against the web layer's example and the newsroom (tests/e2e)",
        needs_server: true,
        run: e2e,
    },
];

fn rust(workspace: &Workspace) -> Result<(), String> {
    // The cluster tests meet on the shared Redis and start redis-server of their own.
    tools::ensure_redis()?;
    tools::run(workspace.cargo().args(["test", "--workspace"]))
}

fn compat_node(workspace: &Workspace) -> Result<(), String> {
    node_suite(workspace, 1)
}

fn compat_cluster(workspace: &Workspace) -> Result<(), String> {
    tools::ensure_redis()?;
    node_suite(workspace, 3)
}

/// The Node suite against one server, or against `nodes` nodes of a cluster behind a
/// round-robin proxy (tests/compat/node/lib/server.js).
fn node_suite(workspace: &Workspace, nodes: usize) -> Result<(), String> {
    let dir = workspace.compat_dir();
    tools::ensure_node_modules(&dir)?;
    tools::run(
        Command::new("node")
            .args([
                "--test",
                "--test-reporter=spec",
                "--test-timeout=120000",
                "node/",
            ])
            .current_dir(&dir)
            .env("PUSHERABLE_BIN", workspace.server_binary())
            .env("PUSHERABLE_CLUSTER_NODES", nodes.to_string()),
    )
}

fn compat_python(workspace: &Workspace) -> Result<(), String> {
    // Some tests put pusher-js (from the node suite's modules) in front of the PyPI library.
    tools::ensure_node_modules(&workspace.compat_dir())?;
    let dir = workspace.compat_dir().join("python");
    let python = tools::ensure_python_venv(&dir)?;
    tools::run(
        Command::new(python)
            .args(["-m", "pytest"])
            .current_dir(&dir)
            .env("PUSHERABLE_BIN", workspace.server_binary()),
    )
}

fn e2e(workspace: &Workspace) -> Result<(), String> {
    let chromium = tools::ensure_chromium()?;
    tools::run(workspace.cargo().args(["build", "-p", "newsroom"]))?;
    tools::run(
        workspace
            .cargo()
            .args(["build", "-p", "pusherable", "--example", "articles"]),
    )?;
    let dir = workspace.root.join("tests").join("e2e");
    tools::ensure_node_modules(&dir)?;
    tools::run(
        Command::new("node")
            .args([
                "--test",
                "--test-reporter=spec",
                "--test-concurrency=1",
                "--test-timeout=300000",
            ])
            .current_dir(&dir)
            .env("CHROMIUM_PATH", chromium)
            .env("PUSHERABLE_BIN", workspace.server_binary())
            .env("NEWSROOM_BIN", workspace.debug_artifact("newsroom"))
            .env(
                "ARTICLES_BIN",
                workspace.debug_artifact(&format!(
                    "examples/articles{}",
                    std::env::consts::EXE_SUFFIX
                )),
            ),
    )
}
