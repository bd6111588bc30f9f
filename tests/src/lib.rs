//! Test support: spawn the app and talk to it.
