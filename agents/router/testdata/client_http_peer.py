"""Calls the router's HTTP caller bridge the way OCS's ocs/client_http.py
does, for the router's interop test (agents/router/interop_test.go).

client_http.py posts with requests.post(url, data=json.dumps(...)): a str
body, hence no Content-Type header. This script sends the same request with
the standard library's http.client (so the test needs nothing beyond
python3-autobahn's dependencies) and the headers requests adds by default,
and reads the reply with client_http.py's rules.

Usage: client_http_peer.py CALL_URL AGENT_ADDRESS

Prints one line per call: the name, then repr() of the result, or of the
7-element error list OCS's ControlClientError carries.
"""

import http.client
import json
import sys
import urllib.parse


def post(url, body):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request('POST', u.path or '/', body=body, headers={
            'User-Agent': 'python-requests/2.28.1',
            'Accept-Encoding': 'gzip, deflate',
            'Accept': '*/*',
            'Connection': 'keep-alive',
        })
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def call(url, procedure, *args, **kwargs):
    body = json.dumps({'procedure': procedure, 'args': args, 'kwargs': kwargs})
    try:
        status, data = post(url, body)
    except ConnectionError:
        return ('error', [0, 0, 0, 0, 'client_http.error.connection_error',
                          ['Failed to connect to %s' % url], {}])
    if status != 200:
        return ('error', [0, 0, 0, 0, 'client_http.error.request_error',
                          ['Server replied with code %i' % status], {}])
    decoded = json.loads(data)
    if 'error' in decoded:
        return ('error', [0, 0, 0, 0, decoded['error'], decoded['args'], decoded['kwargs']])
    return ('ok', decoded['args'][0])


def main():
    url, addr = sys.argv[1:3]
    steps = [
        ('api', (addr, 'get_api'), {}),
        ('status', (addr + '.ops', 'status', 'record', {}), {}),
        ('start', (addr + '.ops', 'start', 'record', {'test_mode': True}), {}),
        ('wait', (addr + '.ops', 'wait', 'record', {}), {'timeout': 0}),
        ('nobody', ('observatory.nobody.ops', 'status', 'record', {}), {}),
    ]
    for name, args, kwargs in steps:
        kind, value = call(url, *args, **kwargs)
        if name == 'api' and kind == 'ok':
            value = (value['agent_class'], type(value['instance_pid']).__name__,
                     type(value['access_control']['update_timestamp']).__name__)
        elif kind == 'ok':
            s = value[2]
            value = (value[0], value[1], s.get('session_id'), type(s.get('start_time')).__name__, s.get('status'))
        print(name, kind, repr(value), flush=True)
    kind, value = call(url.rsplit('/', 1)[0] + '/nope', addr, 'get_api')
    print('wrongpath', kind, repr(value), flush=True)


if __name__ == '__main__':
    main()
