//! Byte-exact formats of the Python SDK: JSON layout and timestamps.
pub mod pyjson;
pub mod timestamp;
