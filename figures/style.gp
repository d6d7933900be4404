# figures/style.gp — the one look of every figure. Each figure script starts with `load "style.gp"`
# and is run from figures/ (make plots), reading data/*.tsv and writing <name>.png and <name>.svg:
#
#   do for [fmt in formats] { eval output(fmt, "supervised", 1000, 420); ...plots... }

formats = "png svg"
output(fmt, name, w, h) = (fmt eq "png" \
    ? sprintf("set terminal pngcairo enhanced size %d,%d font 'DejaVu Sans,11' linewidth 1.3; ", w, h) \
    : sprintf("set terminal svg enhanced size %d,%d dynamic font 'DejaVu Sans,11' linewidth 1.3 background rgb 'white'; ", w, h)) \
    . sprintf("set output '%s.%s'", name, fmt)

set datafile separator "\t"
set datafile commentschars "#"
set encoding utf8

# Colours: Okabe–Ito, distinguishable with every common colour-vision deficiency.
set linetype 1 lc rgb "#0072B2" lw 2 pt 7 ps 0.7   # blue
set linetype 2 lc rgb "#D55E00" lw 2 pt 5 ps 0.7   # vermillion
set linetype 3 lc rgb "#009E73" lw 2 pt 9 ps 0.8   # green
set linetype 4 lc rgb "#CC79A7" lw 2 pt 11 ps 0.8  # purple
set linetype 5 lc rgb "#E69F00" lw 2 pt 13 ps 0.8  # orange
set linetype 6 lc rgb "#56B4E9" lw 2 pt 3 ps 0.8   # sky blue
set linetype 7 lc rgb "#000000" lw 2 pt 1 ps 0.8   # black
set linetype cycle 7
reference = 'lc rgb "#777777" lw 1.2 dt (6,4)'     # paper values and targets: grey dashes

set border 3 lc rgb "#444444"
set tics nomirror out scale 0.6
set grid ytics lc rgb "#e5e5e5" lw 1 dt solid
set key noopaque samplen 2.5 spacing 1.15
set mxtics 1

# Numbers printed on a figure come from the data files, never typed into a script.
# json(file, path): the value at a dotted key path ("results.momentum.knn20_mean") of one of the
# experiments' JSON files, at full precision ("nan" when absent): the TSV tables keep 7 digits,
# which can round a printed mean the other way (79.545 for 79.54499999999999). Plain awk, no
# parser: the files are pretty-printed, two spaces per level, one `"key" : value` per line.
json_awk = 'match($0, /^ *"/) { d = int(RLENGTH / 2); r = substr($0, RLENGTH + 1); ' . \
    'k = substr(r, 1, index(r, "\" : ") - 1); gsub(/\\\//, "/", k); key[d] = k; ' . \
    'p = key[1]; for (i = 2; i <= d; i++) p = p "." key[i]; ' . \
    'if (p == want) { v = substr(r, index(r, "\" : ") + 4); sub(/,$/, "", v); gsub(/^"|"$/, "", v); ' . \
    'gsub(/\\\//, "/", v); print v; found = 1; exit }; next } ' . \
    'match($0, /^ *[[{]/) { key[int(RLENGTH / 2)] = "[]" }  END { if (!found) print "nan" }'  # array items: no key
json(file, path) = system(sprintf("awk -v want='%s' '%s' '%s'", path, json_awk, file))
# note(file, regex): the first match of an (awk) regex in a TSV file's # comment lines, or "".
note(file, regex) = system(sprintf("awk '/^#/ && match($0, /%s/) { print substr($0, RSTART, RLENGTH); exit }' '%s'", regex, file))
# 60000 -> "60 000", as the papers and the README write counts.
thousands(n) = (n >= 1000 ? thousands(int(n) / 1000) . sprintf(" %03d", int(n) % 1000) : sprintf("%d", n))
