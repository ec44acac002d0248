"""The process runtime: memory trimming, installed paths, reachability of Discord, log redaction."""
