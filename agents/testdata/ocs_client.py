"""Drive a Go OCS agent the way OCS's Python clients do, and print JSON.

Usage: /usr/bin/python3 ocs_client.py <ws-url> <realm> <agent-address> <json|msgpack>

Uses Debian's python3-autobahn (asyncio). The calls copy the argument
conventions of ocs-protocol.md §2.3: OCSClient sends [action, op, params]
(plus timeout / password as keywords), ocs-web sends [] as params for
stop/abort/status, OperationClient sends [action, op] with params/timeout
keywords. The heartbeat is subscribed with a wildcard pattern as the
Registry, ocs-web and ocs-client-cli scan do.
"""
import asyncio
import json
import sys

from autobahn.asyncio.wamp import ApplicationSession, ApplicationRunner
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.serializer import JsonSerializer, MsgPackSerializer
from autobahn.wamp.types import SubscribeOptions

URL, REALM, ADDR, SER = sys.argv[1:5]
ROOT = ADDR.split('.')[0]
OUT = {'heartbeats': [], 'ops': [], 'management': {}, 'errors': []}


class Client(ApplicationSession):

    async def onJoin(self, details):
        try:
            OUT['serializer'] = self._transport._serializer.SERIALIZER_ID
            await self.run()
        except Exception as e:  # report, never hang
            OUT['errors'].append('%s: %s' % (type(e).__name__, e))
        self.leave()

    def on_heartbeat(self, *args, **kwargs):
        details = kwargs.pop('details')
        msg, feed = args[0]
        OUT['heartbeats'].append({
            'topic': details.topic, 'nargs': len(args), 'kwargs': kwargs,
            'message': msg, 'keys': list(msg.keys()), 'feed': feed})

    async def ops(self, label, *args, **kwargs):
        try:
            reply = await self.call(ADDR + '.ops', *args, **kwargs)
            OUT['ops'].append([label, list(reply)])
        except ApplicationError as e:
            OUT['ops'].append([label, {'error': e.error, 'args': list(e.args)}])

    async def run(self):
        await self.subscribe(self.on_heartbeat, ROOT + '..feeds.heartbeat',
                             options=SubscribeOptions(match='wildcard', details_arg='details'))
        m = OUT['management']
        for q in ['get_api', 'get_tasks', 'get_processes', 'get_feeds', 'get_agent_class', 'get_bogus']:
            m[q] = await self.call(ADDR, q)
        # OCSClient (positional action, op, params; timeout by keyword)
        await self.ops('status never run', 'status', 'record', {})
        await self.ops('wait never run', 'wait', 'record', {}, timeout=1)
        await self.ops('start', 'start', 'record', {})
        await self.ops('status', 'status', 'record', {})
        await self.ops('start while running', 'start', 'record', {})
        await self.ops('wait timeout=0', 'wait', 'record', {}, timeout=0)
        await self.ops('wait timeout=0.2', 'wait', 'record', {}, timeout=0.2)
        await self.ops('stop', 'stop', 'record', {})
        await self.ops('wait timeout=10', 'wait', 'record', {}, timeout=10)
        await self.ops('stop again', 'stop', 'record', {})
        await self.ops('start bad type', 'start', 'record', {'test_mode': 'yes'})
        await self.ops('start unknown param', 'start', 'record', {'bogus': 1})
        await self.ops('wait after rejected start', 'wait', 'record', {}, timeout=1)
        await self.ops('start test_mode', 'start', 'record', {'test_mode': True}, password='pw')
        await self.ops('wait test_mode', 'wait', 'record', {}, timeout=None)
        await self.ops('status unknown op', 'status', 'nope', {})
        await self.ops('abort on a process', 'abort', 'record', {})
        await self.ops('unknown action', 'frobnicate', 'record', {})
        # ocs-web: params [] for stop/abort/status, no timeout for wait
        await self.ops('ocs-web status', 'status', 'delay_task', [])
        await self.ops('ocs-web start', 'start', 'delay_task', {'delay': 30})
        await self.ops('ocs-web abort', 'abort', 'delay_task', [])
        await self.ops('ocs-web wait', 'wait', 'delay_task', {'delay': 30})
        # OperationClient (agent to agent): [action, op] + keywords
        await self.ops('OperationClient status', 'status', 'record', params=None, timeout=None)
        await self.ops('too few args', 'status')
        # heartbeats: wait for at least two
        for _ in range(60):
            if len(OUT['heartbeats']) >= 2:
                break
            await asyncio.sleep(0.05)

    def onDisconnect(self):
        asyncio.get_event_loop().stop()


def main():
    serializers = {'json': [JsonSerializer()], 'msgpack': [MsgPackSerializer()]}[SER]
    runner = ApplicationRunner(URL, REALM, serializers=serializers)
    runner.run(Client)
    print("OCS_CLIENT_RESULT " + json.dumps(OUT))


if __name__ == '__main__':
    main()
