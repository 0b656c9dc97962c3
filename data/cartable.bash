# bash completion for cartable(1).
# Commands, subcommands and options are read from cartable's own help texts
# (cartable [COMMAND [SUB]] --help), so they follow the binary that is installed.

# Devices offered for a TARGET; a test may point this elsewhere.
: "${CARTABLE_COMPLETION_DEVICES:=/dev/disk/by-id}"

# The help text of cartable, or of a command: _cartable_help BIN [COMMAND [SUB]]
_cartable_help() {
        local bin=$1; shift
        LC_ALL=C.UTF-8 LANGUAGE= "$bin" "$@" --help 2>/dev/null   # English help: its words are parsed
}

# The placeholder an option takes in a help text ("--trust KEY" -> KEY), empty for a flag.
_cartable_option_arg() { # HELP OPTION
        local re="(^|[][ ,|])$2[ =]([^] ,]+)"
        [[ $1 =~ $re ]] || return 0
        local arg=${BASH_REMATCH[2]}
        arg=${arg%...}
        [[ $arg == -* ]] || printf '%s\n' "$arg"
}

_cartable() {
        local cur prev words cword
        # Device names hold colons ("usb-Vendor_Product_SERIAL-0:0"): keep them in one word.
        _init_completion -n : || return

        local bin=${words[0]} i w cmd= sub= help subs arg
        local -a pos=()
        local -a gconf=()

        # The command, its sub-command, and the positional arguments before the cursor.
        for ((i = 1; i < cword; i++)); do
                w=${words[i]}
                if [[ -z $cmd ]]; then
                        if [[ $w == --config ]]; then
                                gconf=(--config "${words[i + 1]}"); ((i++))
                        elif [[ $w != -* ]]; then
                                cmd=$w
                                help=$(_cartable_help "$bin" "$cmd")
                                subs=$(grep -oE "cartable $cmd [a-z][a-z-]*" <<<"$help" | awk '{print $3}' | sort -u)
                        fi
                        continue
                fi
                if [[ -n $subs && -z $sub && $w != -* ]]; then
                        sub=$w
                        [[ $sub == export ]] && help=$(_cartable_help "$bin" "$cmd" "$sub")
                        continue
                fi
                if [[ $w == -* ]]; then
                        [[ $w != *=* && -n $(_cartable_option_arg "$help" "$w") ]] && ((i++))
                        continue
                fi
                pos+=("$w")
        done

        if [[ -z $cmd ]]; then
                case $prev in
                --config) _filedir conf; return ;;
                esac
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "$(_cartable_help "$bin" | grep -oE -- '(^| )--?[a-zA-Z][a-z-]*' | sort -u)" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$(_cartable_help "$bin" | awk '/^Commands:/{f=1;next} /^$/{f=0} f{print $1}')" -- "$cur"))
                fi
                return
        fi
        if [[ $cmd == help ]]; then
                [[ ${#pos[@]} -eq 0 ]] &&
                        COMPREPLY=($(compgen -W "$(_cartable_help "$bin" | awk '/^Commands:/{f=1;next} /^$/{f=0} f && $1 != "help"{print $1}')" -- "$cur"))
                return
        fi
        if [[ -n $subs && -z $sub ]]; then
                COMPREPLY=($(compgen -W "$subs" -- "$cur"))
                return
        fi

        # --pupil: the journal's pupils, as ID and UAI/ID (cartable roster list reads the
        # journal named by --journal, else the configuration's).
        if [[ $prev == --pupil ]]; then
                local -a jarg=()
                for ((i = 1; i < cword - 1; i++)); do
                        [[ ${words[i]} == --journal ]] && jarg=(--journal "${words[i + 1]}")
                done
                COMPREPLY=($(compgen -W "$("$bin" "${gconf[@]}" roster list --all --json "${jarg[@]}" 2>/dev/null |
                        sed -nE 's|.*"school":"([^"]*)".*"id":"([^"]*)".*|\2 \1/\2|p')" -- "$cur"))
                return
        fi
        # An option's argument, by the placeholder its help text names.
        if [[ $prev == -* ]]; then
                arg=$(_cartable_option_arg "$help" "$prev")
                case $arg in
                "") ;;
                *'|'*[a-z]*) COMPREPLY=($(compgen -W "${arg//|/ }" -- "$cur")); return ;;
                FILE*|DIR*|KEY|SECRET|SIG|RECIPE|DB|*.cart|*.img) _filedir; return ;;
                *) return ;;   # a size, a number, a text: nothing to offer
                esac
        fi
        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$(grep -oE -- '(^|[][ ,|])--?[a-zA-Z][a-zA-Z-]*' <<<"$help" | sed 's/^[][ ,|]//' | sort -u)" -- "$cur"))
                return
        fi

        # Positional arguments: releases (*.cart), targets (USB keys by id, image files).
        local what=
        case $cmd${sub:+ $sub}:${#pos[@]} in
        "flash:0"|"batch:0"|"image verify:0"|"image show:0"|"image export:0") what=release ;;
        "update:0"|"repair:0"|"replace:0") what=release ;;
        "flash:1"|"verify:0"|"ls:0"|"cat:0"|"issue:0") what=target ;;
        "update:1"|"repair:1"|"replace:1"|"return:0"|"identify:0") what=target ;;
        "image build:"*|"key show:0"|"key verify:0") what=file ;;
        esac
        case $what in
        release) _filedir cart ;;
        target)
                local d
                [[ $cur == "$CARTABLE_COMPLETION_DEVICES"/* ]] || _filedir
                for d in "$CARTABLE_COMPLETION_DEVICES"/usb-*; do
                        [[ -e $d && $d != *-part[0-9]* && $d == "$cur"* ]] && COMPREPLY+=("$d")
                done
                __ltrim_colon_completions "$cur"
                ;;
        file) _filedir ;;
        esac
} &&
        complete -F _cartable cartable
