"""The real readers of envtrail's exports, driven from the tests.

- ``python_dotenv``: the installed python-dotenv, reading a stream and a path,
  with interpolation on and off.
- ``node``: node's dotenv, releases 16, 17 and 18 (and 18's ``fast`` parser),
  run for real by one long-lived ``node`` process. The releases are pinned in
  ``node/package.json`` and its lock file and installed with ``npm ci`` on
  first use; the tests skip only when ``node`` itself is missing.
- ``shells``: sh, bash and dash sourcing a file with ``set -a; . FILE``.
- ``docker``: the rules by which ``docker run --env-file`` reads a file. The
  real docker client is run against a stand-in daemon on a Unix socket in a
  temporary folder, which records the environment the client would send to
  create a container (no engine is needed). ``docker_envfile.json`` holds
  parses recorded that way, for machines without docker; re-record them with
  ``python tests/consumers/docker.py`` after a docker upgrade.
"""
