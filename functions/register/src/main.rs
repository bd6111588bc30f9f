//! Lambda function entry point.

fn main() {}
