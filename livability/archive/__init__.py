"""The weekly archive of the raw tables: BigQuery JSON exports with a manifest.

writer   archive complete weeks, verify, schedule
loader   load an archive back through validation (`livability load-archive`)
export   a period of a table from the warehouse and the archive, de-duplicated
"""
