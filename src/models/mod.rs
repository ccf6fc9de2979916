//! kiroku's own side of the model registry: gated promotion (`policy`, over plain inputs, and
//! `gate`, which gathers them from the store), evaluation on registration (`evaluation`), and
//! deploy hooks (`hooks`: which fire and what they carry; `webhook`: MLflow 3's signature;
//! `outbox`: at-least-once delivery with retries).
pub mod facts;
pub mod policy;
pub mod settings;
pub mod webhook;
