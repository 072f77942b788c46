#!/bin/sh
# Builds the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the project's own
# test captures (testdata/) and conversation library. The corpora are not committed.
set -eu
cd "$(dirname "$0")"
cargo run --release --example seed -- ../testdata corpus
# The fragment reassembler's inputs are not frames of any capture: its corpus starts empty.
mkdir -p corpus/reassemble_fragments
