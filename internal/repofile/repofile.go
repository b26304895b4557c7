// Package repofile is a file committed to a GitHub repo: what the repos
// component seeds and the image component builds the first image from.
package repofile

// File is one file committed to a repo.
type File struct {
	Path    string
	Content string
}
