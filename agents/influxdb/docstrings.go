package influxdb

// recordDoc is the docstring get_api reports for record, verbatim from the
// Python agent (simonsobs/ocs, ocs/agents/influxdb_publisher/agent.py, as
// captured in reference-output.md §1–§3), trailing indentation included.
const recordDoc = "record()\n\n        **Process** - This process will create an Publisher instance, which\n        will collect and write provider data to disk as long as this process is\n        running.\n\n        Parameters:\n            test_mode (bool, optional): Run the record Process loop only once.\n                This is meant only for testing. Default is False.\n\n        Notes:\n            An example of the session data::\n\n                >>> response.session['data']\n                {'connected': True,\n                 'last_updated': 1774389203.53926}\n\n        "
