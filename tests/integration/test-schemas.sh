#!/bin/bash
# What cartable writes, checked against its schemas in manifests/schemas with
# python3-jsonschema: a release's manifest.json, and the key record of keys flashed with
# and without an owner. Each schema must also refuse a record it does not describe.
. "$(dirname "$0")/lib.sh"
need_tool mtype
PY=/usr/bin/python3
$PY -c 'import jsonschema' 2>/dev/null || skip "needs python3-jsonschema (tools/install-deps)"
SCHEMAS=$SOURCE_ROOT/manifests/schemas
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
printf '[station]\nstate-dir = %s/state\n' "$SCRATCH" > cartable.conf

# check SCHEMA FILE: 0 when FILE is valid, 1 with the validator's words on stderr.
check() {
        $PY - "$1" "$2" <<'PYEOF'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))
for e in errors:
    print("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message), file=sys.stderr)
sys.exit(1 if errors else 0)
PYEOF
}

mkdir -p content/Cours content/Outils
echo "Théorème" > content/Cours/pythagore.txt
echo "outil" > content/Outils/outil.sh
printf 'Cette clé appartient à @FIRST_NAME@ (@CLASS@).\n' > owner.tpl
"$CARTABLE" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
"$CARTABLE" image build --name college --version 2026.1 --serial 1 --min-size 64M --sealed Cours --label COLLEGE \
        --owner-template owner.tpl --owner-path "A MOI.txt" --key dep.key --output rel.cart -q content >/dev/null
tar xf rel.cart manifest.json
check "$SCHEMAS/release-manifest.schema.json" manifest.json || fail "manifest.json does not follow its schema"
grep -q '"personalisation"' manifest.json || fail "the release is not personalised: the schema's branch went unchecked"

expect_exit 0 "$CARTABLE" flash rel.cart owned.img --size 96M --trust dep.pub --owner first-name=Léa --owner class="5e B"
mtype -i owned.img@@1M ::/.cartable/key.json > owned.json
check "$SCHEMAS/key.schema.json" owned.json || fail "key.json (with owner) does not follow its schema"
expect_in owned.json '"first_name":"Léa"'
expect_exit 0 "$CARTABLE" flash rel.cart spare.img --size 96M --trust dep.pub
mtype -i spare.img@@1M ::/.cartable/key.json > spare.json
check "$SCHEMAS/key.schema.json" spare.json || fail "key.json (no owner) does not follow its schema"
expect_not_in spare.json '"owner"'
# The record verify prints is the same object, and follows the same schema.
expect_exit 0 "$CARTABLE" verify owned.img --trust dep.pub --json
$PY -c 'import json,sys; json.dump(json.load(open("out"))["key_record"]["record"], open("printed.json","w"))'
check "$SCHEMAS/key.schema.json" printed.json || fail "verify --json's key record does not follow the schema"
cmp <($PY -c 'import json; print(json.dumps(json.load(open("printed.json")), sort_keys=True))') \
    <($PY -c 'import json; print(json.dumps(json.load(open("owned.json")), sort_keys=True))') ||
        fail "verify --json prints another record than the key's"

# flash --json's result carries the same record as key.json (owner left out of stdout),
# plus what only the flash knows about the key.
expect_exit 0 "$CARTABLE" flash rel.cart json.img --size 96M --trust dep.pub --json --owner first-name=Zoé --owner class=4e
grep '"event":"result"' out > result.json
$PY - <<'PYEOF' || fail "flash --json's record is not key.json's"
import json
r = json.load(open("result.json"))
for k in ("device", "probed", "probe"):
    r["key"].pop(k, None)
record = {k: r[k] for k in ("key", "volume_id", "release", "flashed_at")}
json.dump(record, open("result-record.json", "w"))
PYEOF
check "$SCHEMAS/key.schema.json" result-record.json || fail "flash --json's record does not follow the schema"
mtype -i json.img@@1M ::/.cartable/key.json > json-key.json
$PY -c 'import json,sys; a=json.load(open("result-record.json")); b=json.load(open("json-key.json")); b.pop("owner"); sys.exit(a != b)' ||
        fail "flash --json and key.json differ"
expect_not_in result.json 'Zoé'

# The schemas say no to what cartable's parsers refuse.
sed 's/"volume_id":"[0-9A-F-]*"/"volume_id":"12345678"/' spare.json > bad-vid.json
! check "$SCHEMAS/key.schema.json" bad-vid.json 2>err || fail "the key schema accepts a malformed volume ID"
expect_in err 'volume_id'
sed 's/"flashed_at"/"ine":"123","flashed_at"/' spare.json > bad-field.json
! check "$SCHEMAS/key.schema.json" bad-field.json 2>err || fail "the key schema accepts an unknown field"
sed 's/"schema":1/"schema":2/; s/"schema": 1/"schema": 2/' manifest.json > bad-manifest.json
! check "$SCHEMAS/release-manifest.schema.json" bad-manifest.json 2>err || fail "the manifest schema accepts schema 2"
echo "schemas: ok"
