//! What `#[derive(Pusherable)]` puts into the payload, and which channel it gives.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;

use pusherable::{Kind, Pusherable};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};

/// A value that refuses to be serialized: a field holding it proves it was never written.
struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("a secret was serialized"))
    }
}

fn fields<T: Pusherable>(object: &T) -> Value {
    Value::Object(object.pusherable_fields().unwrap())
}

#[test]
fn defaults_snake_case_model_id_key_private_all_fields() {
    #[derive(Pusherable)]
    struct NewsArticle {
        id: u32,
        title: String,
    }
    assert_eq!(NewsArticle::MODEL, "news_article");
    assert_eq!(NewsArticle::NAMESPACE, None);
    assert_eq!(NewsArticle::KIND, Kind::Private);
    let a = NewsArticle {
        id: 3,
        title: "T".into(),
    };
    assert_eq!(
        a.pusherable_channel().unwrap().name(),
        "private-news_article-3"
    );
    assert_eq!(fields(&a), json!({"id": 3, "title": "T"}));
}

#[test]
fn secret_fields_are_never_serialized() {
    #[derive(Pusherable)]
    struct Account {
        pk: String,
        name: String,
        #[pusherable(secret)]
        password_hash: Unserializable,
    }
    let a = Account {
        pk: "u-1".into(),
        name: "Ada".into(),
        password_hash: Unserializable,
    };
    assert_eq!(a.pusherable_key(), "u-1");
    assert_eq!(fields(&a), json!({"pk": "u-1", "name": "Ada"}));
}

#[test]
fn include_and_exclude_pick_fields_by_rust_name() {
    #[derive(Pusherable)]
    #[pusherable(include(title))]
    struct Only {
        id: u32,
        title: String,
        body: Unserializable,
    }
    assert_eq!(
        fields(&Only {
            id: 1,
            title: "T".into(),
            body: Unserializable
        }),
        json!({"title": "T"})
    );

    #[derive(Pusherable)]
    #[pusherable(exclude(body))]
    struct AllBut {
        id: u32,
        body: Unserializable,
        #[pusherable(skip)]
        cache: Unserializable,
    }
    assert_eq!(
        fields(&AllBut {
            id: 1,
            body: Unserializable,
            cache: Unserializable
        }),
        json!({"id": 1})
    );
}

#[test]
fn serde_names_and_writers_are_honoured() {
    fn upper<S: Serializer>(s: &str, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&s.to_uppercase())
    }
    mod as_len {
        pub(super) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_u64(v.len() as u64)
        }
    }
    #[derive(Serialize)]
    struct Meta {
        words: u32,
        lang: &'static str,
    }
    #[derive(Serialize, Pusherable)]
    #[serde(rename_all = "camelCase")]
    struct Story {
        id: u64,
        first_line: String,
        #[serde(rename = "headline")]
        title: String,
        #[serde(rename(serialize = "by", deserialize = "author"))]
        author: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        subtitle: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        kicker: Option<String>,
        #[serde(flatten)]
        meta: Meta,
        #[serde(serialize_with = "upper")]
        section: String,
        #[serde(with = "as_len")]
        body: Vec<u8>,
        #[serde(skip)]
        draft: bool,
        r#type: &'static str,
    }
    let s = Story {
        id: 1,
        first_line: "Once".into(),
        title: "Big".into(),
        author: "Ada".into(),
        subtitle: None,
        kicker: Some("K".into()),
        meta: Meta {
            words: 300,
            lang: "en",
        },
        section: "news".into(),
        body: vec![0; 5],
        draft: true,
        r#type: "feature",
    };
    let expected = json!({
        "id": 1, "firstLine": "Once", "headline": "Big", "by": "Ada", "kicker": "K",
        "words": 300, "lang": "en", "section": "NEWS", "body": 5, "type": "feature",
    });
    assert_eq!(fields(&s), expected);
    // The same keys as the model's own Serialize.
    assert_eq!(serde_json::to_value(&s).unwrap(), expected);
}

#[test]
fn model_namespace_kind_and_key_can_be_set() {
    #[derive(Pusherable)]
    #[pusherable(model = "story", namespace = "blog", presence)]
    struct Post {
        #[pusherable(key)]
        slug: String,
        id: u32,
    }
    let p = Post {
        slug: "hello-world".into(),
        id: 9,
    };
    assert_eq!(
        p.pusherable_channel().unwrap().name(),
        "presence-blog.story-hello-world"
    );

    #[derive(Pusherable)]
    #[pusherable(public)]
    struct Notice {
        id: u8,
    }
    assert_eq!(
        Notice { id: 1 }.pusherable_channel().unwrap().name(),
        "notice-1"
    );
}

#[test]
fn generic_models_get_their_bounds() {
    #[derive(Pusherable)]
    struct Tagged<K, V> {
        id: K,
        tags: BTreeMap<String, V>,
    }
    let t = Tagged {
        id: 7u8,
        tags: BTreeMap::from([("a".to_owned(), 1)]),
    };
    assert_eq!(t.pusherable_channel().unwrap().name(), "private-tagged-7");
    assert_eq!(fields(&t), json!({"id": 7, "tags": {"a": 1}}));
}

#[test]
fn a_field_that_fails_to_serialize_is_an_error_not_a_panic() {
    #[derive(Pusherable)]
    struct Odd {
        id: u8,
        map: BTreeMap<(u8, u8), u8>,
    }
    let odd = Odd {
        id: 1,
        map: BTreeMap::from([((1, 2), 3)]),
    };
    assert!(odd.pusherable_fields().is_err());
    assert!(pusherable::Notify::view(&odd).error().is_some());
}
