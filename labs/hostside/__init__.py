"""The lab host's half of labs: carries out the jobs the web side queued, through the one
engine facade (`worker.labhost`), and records their outcome. Runs in the lab host's worker."""
