"""Bill-run pages, by who uses them: clerks plan, launch, watch, retry and cancel runs
(`clerk`); managers review a run's invoices and approve a selection of them (`manager`)."""
