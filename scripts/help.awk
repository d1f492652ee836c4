# make help: each "target: … ## text" line of the Makefile as the target's name and its
# text, wrapped to 80 columns under a column wide enough for every name.
BEGIN { FS = ":.*## "; width = 0; n = 0 }
/^[a-zA-Z_-]+:.*## / {
  name[++n] = $1; text[n] = $2
  if (length($1) > width) width = length($1)
}
END {
  indent = width + 4
  for (i = 1; i <= n; i++) {
    line = sprintf("  %-" width "s  ", name[i]); col = indent
    words = split(text[i], w, " ")
    for (j = 1; j <= words; j++) {
      if (col > indent && col + 1 + length(w[j]) > 80) {
        print line; line = sprintf("%" indent "s", ""); col = indent
      }
      if (col > indent) { line = line " "; col++ }
      line = line w[j]; col += length(w[j])
    }
    print line
  }
}
