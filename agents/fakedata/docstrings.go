package fakedata

// The docstrings get_api reports, verbatim from the Python agent
// (simonsobs/ocs, ocs/agents/fake_data/agent.py, as captured in
// reference-output.md §4). count has none (null).

// acqDoc is the docstring of acq.
const acqDoc = `acq(test_mode=False, degradation_period=None)

        **Process** - Acquire data and write to the feed.

        Parameters:
            test_mode (bool, optional): Run the acq Process loop only once.
                This is meant only for testing. Default is False.
            degradation_period (float, optional): If set, then
              alternately mark self as degraded / not degraded with
              this period (in seconds).

        Notes:
            The most recent fake values are stored in the session data object in
            the format::

                >>> response.session['data']
                {"fields":
                    {"channel_00": 0.10250430068515494,
                     "channel_01": 0.08550903376216404,
                     "channel_02": 0.10481891991693446,
                     "channel_03": 0.10793263271024509},
                 "timestamp":1600448753.9288929}

            The channels kept in fields are the 'faked' data, in a similar
            structure to the Lakeshore agents. 'timestamp' is the last time
            these values were updated.

        `

// setHeartbeatDoc is the docstring of set_heartbeat.
const setHeartbeatDoc = `set_heartbeat(heartbeat=True)

        **Task** -  Set the state of the agent heartbeat.

        Args:
            heartbeat (bool, optional): True for on (the default), False for off

        `

// delayTaskDoc is the docstring of delay_task.
const delayTaskDoc = `delay_task(delay=5, succeed=True)

        **Task** (abortable) - Sleep (delay) for the requested number of
        seconds.

        This can run simultaneously with the acq Process.  This Task
        should run in the reactor thread.

        Args:
            delay (float, optional): Time to wait before returning, in seconds.
                Defaults to 5.
            succeed (bool, optional): Whether to return success or not.
                Defaults to True.

        Notes:
            The session data will be updated with the requested delay as
            well as the time elapsed so far, for example::

                >>> response.session['data']
                {'requested_delay': 5.,
                 'delay_so_far': 1.2}

        `
