"""N-gram decontamination against benchmark and eval text, Hebrew-aware (datatrove's n-gram decont steps)."""
