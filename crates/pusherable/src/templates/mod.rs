//! Template helpers, one module per engine, each behind its feature.

#[cfg(feature = "minijinja")]
mod minijinja;

#[cfg(feature = "tera")]
mod tera;
