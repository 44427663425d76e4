module github.com/vnetml/vnetml

go 1.26.8
