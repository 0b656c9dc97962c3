#!/bin/bash
# cartable key, and lib/sign's formats checked against minisign itself, both ways.
. "$(dirname "$0")/lib.sh"
need_tool minisign
: "${TOOL_SIGNFILE:?run through meson test}"
SIGNFILE=$TOOL_SIGNFILE
# Never read the station's own configuration.
printf '' > empty.conf
export CARTABLE_CONFIG=$SCRATCH/empty.conf

head -c 300000 /dev/urandom > msg
printf 'correct horse battery\n' > pass
printf 'wrong\n' > wrong

# --- generate an encrypted key from a passphrase file
expect_exit 0 "$CARTABLE" key generate --secret dept.key --public dept.pub \
        --passphrase-file pass --comment "Département test"
expect_in out '^key id: [0-9A-F]{16}$'
id=$(sed -n 's/^key id: //p' out)
expect_in out '^secret key: dept.key \(encrypted\)$'
expect_in out '^public key: dept.pub$'
[ "$(stat -c %a dept.key)" = 600 ] || fail "secret key has mode $(stat -c %a dept.key)"
expect_in dept.pub "^untrusted comment: minisign public key $id - Département test$"

expect_exit 0 "$CARTABLE" key show dept.pub
expect_in out '^type: public key'
expect_in out "^key id: $id$"
expect_exit 0 "$CARTABLE" key show dept.key
expect_in out '^type: secret key'
expect_in out "^key id: $id \(from the file's comment"
expect_in out '^encrypted: yes \(scrypt N=2\^17 r=8 p=1'
expect_exit 0 "$CARTABLE" key show --passphrase-file pass dept.key
expect_in out "^key id: $id$"
expect_in out '^passphrase: correct$'

# --- a wrong passphrase is a trust failure (3), in the command and in lib/sign
expect_exit 3 "$CARTABLE" key show --passphrase-file wrong dept.key
expect_in err 'dept.key: wrong passphrase'

# --- cartable signs (encrypted key), minisign verifies
expect_exit 0 "$SIGNFILE" sign dept.key msg msg.minisig pass "name:college-2026 serial:3"
expect_exit 0 minisign -Vm msg -p dept.pub
expect_in out '^Signature and comment signature verified$'
expect_in out '^Trusted comment: name:college-2026 serial:3$'
expect_exit 0 "$CARTABLE" key verify --trust dept.pub msg
expect_in out "^good signature by key $id$"
expect_in out '^trusted comment: name:college-2026 serial:3$'
# ... and both refuse a modified file or a modified trusted comment.
# (msg is random: flip a bit of byte 1000, a byte written over it could be the same byte)
cp msg msg2 && python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(1000); b = f.read(1)[0]; f.seek(1000); f.write(bytes([b ^ 1]))' msg2
cmp -s msg msg2 && fail "msg2 is msg"
expect_exit 1 minisign -Vm msg2 -x msg.minisig -p dept.pub
expect_exit 3 "$CARTABLE" key verify --trust dept.pub --signature msg.minisig msg2
expect_in err 'does not match'
sed 's/^trusted comment: .*serial:3$/trusted comment: name:college-2026 serial:4/' msg.minisig > forged.sig
expect_exit 1 minisign -Vm msg -x forged.sig -p dept.pub
expect_exit 3 "$CARTABLE" key verify --trust dept.pub --signature forged.sig msg
expect_in err 'trusted comment'

# --- minisign signs with cartable's encrypted key (passphrase on its standard input)
printf 'correct horse battery\n' | minisign -S -s dept.key -m msg -x by-minisign.sig \
        -t "signed by minisign" >/dev/null 2>&1 || fail "minisign cannot use cartable's encrypted key"
expect_exit 0 "$CARTABLE" key verify --trust dept.pub --signature by-minisign.sig msg
expect_in out '^trusted comment: signed by minisign$'

# --- an unencrypted cartable key works in minisign without any question
expect_exit 0 "$CARTABLE" key generate --secret plain.key --public plain.pub --unencrypted
expect_in out '^secret key: plain.key \(unencrypted\)$'
minisign -S -s plain.key -m msg -x plain.sig -t "plain" </dev/null >/dev/null 2>&1 ||
        fail "minisign cannot use cartable's unencrypted key"
expect_exit 0 "$SIGNFILE" verify plain.pub msg plain.sig
expect_in out '^trusted comment: plain$'

# --- keys and signatures made by minisign, checked by cartable's code
minisign -G -W -p mini.pub -s mini.key >/dev/null 2>&1 || fail "minisign -G failed"
minisign -S -s mini.key -m msg -x mini.sig -t "from minisign" >/dev/null 2>&1
expect_exit 0 "$SIGNFILE" verify mini.pub msg mini.sig
expect_in out '^trusted comment: from minisign$'
minisign -S -l -s mini.key -m msg -x legacy.sig >/dev/null 2>&1     # legacy, not prehashed
expect_exit 0 "$SIGNFILE" verify mini.pub msg legacy.sig
expect_exit 0 "$SIGNFILE" sign mini.key msg by-cartable.sig "" "cartable with minisign's key"
expect_exit 0 minisign -Vm msg -x by-cartable.sig -p mini.pub
expect_exit 0 "$CARTABLE" key show mini.key
expect_in out '^encrypted: no$'

# --- trust: keys from a directory and from the configuration; untrusted keys named
mkdir trusted && cp dept.pub mini.pub trusted/ && echo "not a key" > trusted/README
expect_exit 0 "$CARTABLE" key verify --trust trusted --signature mini.sig msg
expect_exit 3 "$CARTABLE" key verify --trust plain.pub --signature mini.sig msg
expect_in err 'signed by key [0-9A-F]{16}, which is not trusted'
printf '[trust]\nkey = %s/trusted\n' "$SCRATCH" > station.conf
expect_exit 0 "$CARTABLE" --config station.conf key verify --signature msg.minisig msg
expect_in out "^good signature by key $id$"
expect_exit 66 "$CARTABLE" key verify --signature msg.minisig msg
expect_in err 'no trusted key: give --trust'
echo "untrusted comment: x" > trusted/broken.pub
expect_exit 65 "$CARTABLE" key verify --trust trusted --signature msg.minisig msg
expect_in err 'trusted/broken.pub: line 2'
expect_exit 66 "$CARTABLE" key verify --trust nowhere.pub msg

# --- never overwrite: exit 73, the existing file unchanged, nothing else created
cp dept.key dept.key.orig
expect_exit 73 "$CARTABLE" key generate --secret dept.key --public new.pub --unencrypted
expect_in err 'dept.key: already exists'
cmp -s dept.key dept.key.orig || fail "dept.key was modified"
[ ! -e new.pub ] || fail "new.pub was created"
expect_exit 73 "$CARTABLE" key generate --secret new.key --public dept.pub --unencrypted
[ ! -e new.key ] || fail "new.key was created"
expect_exit 73 "$CARTABLE" key generate --secret nodir/new.key --public new.pub --unencrypted
[ ! -e new.pub ] || fail "new.pub was created"

# --- passphrase errors
expect_exit 66 "$CARTABLE" key generate --secret n.key --public n.pub --passphrase-file missing
expect_in err 'missing'
: > empty
expect_exit 65 "$CARTABLE" key generate --secret n.key --public n.pub --passphrase-file empty
expect_in err 'empty'
printf '\nsecond line\n' > empty-first
expect_exit 65 "$CARTABLE" key generate --secret n.key --public n.pub --passphrase-file empty-first
expect_exit 64 "$CARTABLE" key generate --secret n.key --public n.pub --passphrase-file pass --unencrypted
# No terminal and no option: say what to give (setsid drops the controlling terminal).
expect_exit 64 setsid -w "$CARTABLE" key generate --secret n.key --public n.pub
expect_in err 'give --passphrase-file FILE, or --unencrypted'
[ ! -e n.key ] && [ ! -e n.pub ] || fail "a failed generate left a key file"

# --- at a terminal: asked twice, without echo; a mismatch or an empty one is refused.
# pty-answer.py runs the command on a new pseudo-terminal and types the answers.
pty() { python3 "$SOURCE_ROOT/tests/integration/pty-answer.py" "$@"; }
expect_exit 65 pty 'one' 'two' -- "$CARTABLE" key generate --secret t.key --public t.pub
expect_in out 'the two passphrases differ'
expect_exit 65 pty '' -- "$CARTABLE" key generate --secret t.key --public t.pub
expect_in out 'empty passphrase'
[ ! -e t.key ] && [ ! -e t.pub ] || fail "a refused passphrase left a key file"
expect_exit 0 pty 'typed at the terminal' 'typed at the terminal' -- \
        "$CARTABLE" key generate --secret t.key --public t.pub
expect_not_in out 'typed at the terminal'     # no echo
printf 'typed at the terminal\n' > typed
expect_exit 0 "$CARTABLE" key show --passphrase-file typed t.key
expect_in out '^passphrase: correct$'
echo "key: ok"
