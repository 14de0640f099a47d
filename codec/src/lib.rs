//! Zero-copy parsers and encoders for the three wire formats (see docs/contracts.md).
