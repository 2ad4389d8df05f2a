"""What a student measured: the evidence log and its records, typed measurements, the reports."""
