//! Where the client sends requests for hosted Pusher and self-hosted servers, checked without
//! any network.

use pusherable_client::{Client, ClientBuilder, ErrorKind};

fn endpoint(builder: ClientBuilder) -> String {
    builder
        .build()
        .expect("a valid configuration")
        .endpoint()
        .to_string()
}

#[test]
fn hosted_pusher_defaults() {
    let b = || Client::builder("123", "key", "secret");
    assert_eq!(endpoint(b()), "https://api.pusherapp.com/apps/123");
    assert_eq!(
        endpoint(b().cluster("eu")),
        "https://api-eu.pusher.com/apps/123"
    );
    assert_eq!(
        endpoint(b().cluster("mt1")),
        "https://api-mt1.pusher.com/apps/123"
    );
    assert_eq!(
        endpoint(b().cluster("ap3").tls(false)),
        "http://api-ap3.pusher.com/apps/123"
    );
    assert_eq!(
        endpoint(b().cluster("us2").port(8443)),
        "https://api-us2.pusher.com:8443/apps/123"
    );
}

#[test]
fn host_wins_over_cluster() {
    let client = Client::builder("1", "key", "secret")
        .cluster("eu")
        .host("realtime.example.com")
        .build()
        .unwrap();
    assert_eq!(
        client.endpoint().as_str(),
        "https://realtime.example.com/apps/1"
    );
}

#[test]
fn self_hosted_forms() {
    assert_eq!(
        endpoint(
            Client::builder("3", "k", "s")
                .host("127.0.0.1")
                .port(6001)
                .tls(false)
        ),
        "http://127.0.0.1:6001/apps/3"
    );
    assert_eq!(
        endpoint(Client::builder("3", "k", "s").host("::1").tls(false)),
        "http://[::1]/apps/3"
    );
    // The default port of the scheme is not written out.
    assert_eq!(
        endpoint(Client::builder("3", "k", "s").host("h").port(443)),
        "https://h/apps/3"
    );
    assert_eq!(
        endpoint(
            Client::builder("3", "k", "s")
                .host("h")
                .path_prefix("realtime")
        ),
        "https://h/realtime/apps/3"
    );
}

#[test]
fn from_url_reads_every_part() {
    let client =
        Client::from_url("http://278d425bdf160c739803:7ad3773142a6692b25b8@127.0.0.1:6001/apps/3")
            .unwrap();
    assert_eq!(client.endpoint().as_str(), "http://127.0.0.1:6001/apps/3");
    assert_eq!(client.key(), "278d425bdf160c739803");

    let hosted = Client::from_url("https://key:secret@api-eu.pusher.com/apps/42/").unwrap();
    assert_eq!(
        hosted.endpoint().as_str(),
        "https://api-eu.pusher.com/apps/42"
    );

    let prefixed = Client::from_url("http://key:se%2Fcret@localhost:3000/rt/apps/7").unwrap();
    assert_eq!(
        prefixed.endpoint().as_str(),
        "http://localhost:3000/rt/apps/7"
    );
}

#[test]
fn bad_configuration_is_refused_with_a_typed_error() {
    for url in [
        "ftp://key:secret@host/apps/1",
        "http://key@host/apps/1",
        "http://key:secret@host/",
        "http://key:secret@host/apps/",
        "http://key:secret@host/apps/a b",
        "not a url",
        "http://:secret@host/apps/1",
    ] {
        let err = Client::from_url(url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{url}");
    }
    let refused = [
        Client::builder("", "k", "s"),
        Client::builder("1/2", "k", "s"),
        Client::builder("1", "", "s"),
        Client::builder("1", "k:x", "s"),
        Client::builder("1", "k", ""),
        Client::builder("1", "k", "s").cluster("eu/x"),
        Client::builder("1", "k", "s").host("http://h"),
        Client::builder("1", "k", "s").host("h/path"),
        Client::builder("1", "k", "s").host("h").path_prefix("a?b"),
        Client::builder("1", "k", "s").encryption_master_key_base64("c2hvcnQ="),
    ];
    for builder in refused {
        let shown = format!("{builder:?}");
        assert!(
            !shown.contains("\"s\""),
            "the secret is never shown: {shown}"
        );
        let err = builder.build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{shown}");
    }
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let client = Client::builder("1", "public-key", "very-secret")
        .encryption_master_key([7; 32])
        .build()
        .unwrap();
    let shown = format!("{client:?}");
    assert!(shown.contains("public-key"));
    assert!(!shown.contains("very-secret"));
}
