//! Whole-flow tests live in `tests/tests/`; `src/bin/` holds the helper processes they drive.
