#!/bin/sh
# Makes the secret files compose.yaml reads, in deploy/secrets/ (or the folder given): a random
# PostgreSQL password, the DATABASE_URL that uses it, and an empty file for each platform's
# token for you to fill in (an empty one is not used). Files already there are kept, so it is
# safe to run again.
set -eu
dir=${1:-"$(dirname "$0")/secrets"}
umask 077
mkdir -p "$dir"
chmod 700 "$dir"
if [ ! -s "$dir/postgres_password" ]; then
    # Hex digits only, so that the password goes into the URL as it is.
    od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$dir/postgres_password"
fi
if [ ! -s "$dir/database_url" ]; then
    printf 'postgresql://ccin:%s@postgres:5432/ccin\n' "$(cat "$dir/postgres_password")" \
        > "$dir/database_url"
fi
for name in telegram_bot_token telegram_webhook_secret slack_bot_token slack_signing_secret \
    slack_app_token teams_app_password teams_sdk_client_secret; do
    [ -e "$dir/$name" ] || : > "$dir/$name"
done
# Compose hands secret files to the containers as they are on this host, and the containers'
# users (the bridge's 10001, PostgreSQL's 999) must read them: readable files, in a folder
# that nobody else on this host may enter.
chmod 644 "$dir"/*
echo "secrets in $dir: write your bot token(s) into the token files, then: docker compose up -d"
