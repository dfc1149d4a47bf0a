#!/bin/sh
# /usr/local/bin/atlas: run `atlas …` by hand, as the service does: as the atlas user,
# with /etc/atlas/atlas.env's settings, in its state folder. Run it as root:
#   atlas db upgrade;  atlas users create --email … --role admin;  atlas backup create
# A DATABASE_URL given on the command line wins over the file's (a restore into a new
# database: DATABASE_URL=…/atlas_restored atlas backup restore FILE).
set -eu
given_url=${DATABASE_URL:-}
set -a
. /etc/atlas/atlas.env
set +a
if [ -n "$given_url" ]; then DATABASE_URL=$given_url; fi
cd /var/lib/atlas
exec runuser -u atlas -- /opt/atlas/venv/bin/atlas "$@"
