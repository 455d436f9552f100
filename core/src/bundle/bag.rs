//! Writing and reading the files of a bag, as a folder or inside a zip, always streaming: every
//! payload file is hashed (SHA-256 and SHA-512) while it is copied, never held whole in memory.

use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256, Sha512};

use super::BundleError;

/// A written or read file's digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256, hex.
    pub sha256: String,
    /// SHA-512, hex.
    pub sha512: String,
    /// Size in bytes.
    pub size: u64,
}

const BUFFER: usize = 256 * 1024;

/// Copies `reader` into `out` while hashing it.
pub fn copy_hashing(reader: &mut dyn Read, out: &mut dyn Write, name: &str) -> Result<Digests, BundleError> {
    let (mut h256, mut h512) = (Sha256::new(), Sha512::new());
    let mut buf = vec![0u8; BUFFER];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| BundleError::io(name, e))?;
        if n == 0 {
            break;
        }
        h256.update(&buf[..n]);
        h512.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| BundleError::io(name, e))?;
        size += n as u64;
    }
    Ok(Digests { sha256: hex::encode(h256.finalize()), sha512: hex::encode(h512.finalize()), size })
}

/// Where a bag is written.
pub trait BagWriter {
    /// Writes the file at `path` (relative to the bag root, `/`-separated) from `reader`.
    fn write(&mut self, path: &str, reader: &mut dyn Read) -> Result<Digests, BundleError>;
    /// Finishes the bag (flushes, syncs).
    fn finish(self: Box<Self>) -> Result<(), BundleError>;
}

/// A bag as a folder.
pub struct FolderWriter {
    root: PathBuf,
}

impl FolderWriter {
    /// A new bag folder at `root` (which must not exist).
    pub fn create(root: &Path) -> Result<FolderWriter, BundleError> {
        if root.exists() {
            return Err(BundleError::Exists(root.display().to_string()));
        }
        std::fs::create_dir_all(root).map_err(|e| BundleError::io(root.display(), e))?;
        Ok(FolderWriter { root: root.to_path_buf() })
    }
}

impl BagWriter for FolderWriter {
    fn write(&mut self, path: &str, reader: &mut dyn Read) -> Result<Digests, BundleError> {
        let target = self.root.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| BundleError::io(parent.display(), e))?;
        }
        let mut file = std::io::BufWriter::new(File::create(&target).map_err(|e| BundleError::io(path, e))?);
        let digests = copy_hashing(reader, &mut file, path)?;
        file.flush().map_err(|e| BundleError::io(path, e))?;
        Ok(digests)
    }

    fn finish(self: Box<Self>) -> Result<(), BundleError> {
        Ok(())
    }
}

/// A bag inside a zip file, under one top-level folder (the bag's name).
pub struct ZipBagWriter {
    zip: zip::ZipWriter<std::io::BufWriter<File>>,
    prefix: String,
    path: PathBuf,
}

impl ZipBagWriter {
    /// A new zip at `path` holding the bag as `<name>/`.
    pub fn create(path: &Path, name: &str) -> Result<ZipBagWriter, BundleError> {
        if path.exists() {
            return Err(BundleError::Exists(path.display().to_string()));
        }
        let file = File::create(path).map_err(|e| BundleError::io(path.display(), e))?;
        Ok(ZipBagWriter {
            zip: zip::ZipWriter::new(std::io::BufWriter::new(file)),
            prefix: format!("{name}/"),
            path: path.to_path_buf(),
        })
    }
}

impl BagWriter for ZipBagWriter {
    fn write(&mut self, path: &str, reader: &mut dyn Read) -> Result<Digests, BundleError> {
        // Photos are JPEG already: stored, not deflated again.
        let method = if path.starts_with("data/media/") {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let options = zip::write::SimpleFileOptions::default().compression_method(method).large_file(false);
        self.zip.start_file(format!("{}{path}", self.prefix), options).map_err(|e| BundleError::Zip(e.to_string()))?;
        copy_hashing(reader, &mut self.zip, path)
    }

    fn finish(self: Box<Self>) -> Result<(), BundleError> {
        let mut inner = self.zip.finish().map_err(|e| BundleError::Zip(e.to_string()))?;
        inner.flush().map_err(|e| BundleError::io(self.path.display(), e))?;
        inner.get_ref().sync_all().map_err(|e| BundleError::io(self.path.display(), e))?;
        Ok(())
    }
}

/// Where a bag is read from.
pub trait BagReader {
    /// Every file in the bag, relative to its root, sorted.
    fn files(&mut self) -> Result<Vec<String>, BundleError>;
    /// Streams one file through `f`.
    fn read(
        &mut self,
        path: &str,
        f: &mut dyn FnMut(&mut dyn Read) -> Result<(), BundleError>,
    ) -> Result<(), BundleError>;
    /// A small file, whole (tag files, JSON statements).
    fn read_all(&mut self, path: &str) -> Result<Vec<u8>, BundleError> {
        let mut out = Vec::new();
        self.read(path, &mut |r| r.read_to_end(&mut out).map(|_| ()).map_err(|e| BundleError::io(path, e)))?;
        Ok(out)
    }
    /// Hashes one file, streaming.
    fn digest(&mut self, path: &str) -> Result<Digests, BundleError> {
        let mut digests = None;
        self.read(path, &mut |r| {
            digests = Some(copy_hashing(r, &mut std::io::sink(), path)?);
            Ok(())
        })?;
        digests.ok_or_else(|| BundleError::io(path, std::io::Error::other("not read")))
    }
}

/// A bag folder.
pub struct FolderReader {
    root: PathBuf,
}

impl FolderReader {
    /// The bag at `root`.
    pub fn open(root: &Path) -> Result<FolderReader, BundleError> {
        if !root.join("bagit.txt").exists() {
            return Err(BundleError::NotABag(root.display().to_string()));
        }
        Ok(FolderReader { root: root.to_path_buf() })
    }
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) -> Result<(), BundleError> {
    for entry in std::fs::read_dir(dir).map_err(|e| BundleError::io(dir.display(), e))? {
        let entry = entry.map_err(|e| BundleError::io(dir.display(), e))?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, base, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            out.push(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
        }
    }
    Ok(())
}

impl BagReader for FolderReader {
    fn files(&mut self) -> Result<Vec<String>, BundleError> {
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out)?;
        out.sort();
        Ok(out)
    }

    fn read(
        &mut self,
        path: &str,
        f: &mut dyn FnMut(&mut dyn Read) -> Result<(), BundleError>,
    ) -> Result<(), BundleError> {
        let file = File::open(self.root.join(path)).map_err(|e| BundleError::io(path, e))?;
        f(&mut BufReader::with_capacity(BUFFER, file))
    }
}

/// A bag inside a zip (under one top-level folder).
pub struct ZipReader<R: Read + Seek> {
    zip: zip::ZipArchive<R>,
    prefix: String,
}

impl ZipReader<BufReader<File>> {
    /// The bag in the zip at `path`.
    pub fn open(path: &Path) -> Result<Self, BundleError> {
        let file = File::open(path).map_err(|e| BundleError::io(path.display(), e))?;
        let zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| BundleError::Zip(e.to_string()))?;
        let prefix = zip
            .file_names()
            .find_map(|n| n.strip_suffix("bagit.txt").filter(|p| p.matches('/').count() <= 1).map(str::to_string))
            .ok_or_else(|| BundleError::NotABag(path.display().to_string()))?;
        Ok(ZipReader { zip, prefix })
    }
}

impl<R: Read + Seek> BagReader for ZipReader<R> {
    fn files(&mut self) -> Result<Vec<String>, BundleError> {
        let mut out: Vec<String> = self
            .zip
            .file_names()
            .filter(|n| !n.ends_with('/'))
            .map(|n| n.strip_prefix(&self.prefix).map(str::to_string).unwrap_or_else(|| format!("../{n}")))
            .collect();
        out.sort();
        Ok(out)
    }

    fn read(
        &mut self,
        path: &str,
        f: &mut dyn FnMut(&mut dyn Read) -> Result<(), BundleError>,
    ) -> Result<(), BundleError> {
        let name = format!("{}{path}", self.prefix);
        let mut entry = self.zip.by_name(&name).map_err(|e| BundleError::io(path, std::io::Error::other(e)))?;
        f(&mut entry)
    }
}

/// Parses a manifest: `<hex>  <path>` per line.
pub fn parse_manifest(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (hash, path) =
                line.split_once(char::is_whitespace).ok_or_else(|| format!("malformed line {line:?}"))?;
            Ok((hash.to_ascii_lowercase(), decode_path(path.trim_start())))
        })
        .collect()
}

/// A manifest's text for `(hash, path)` entries, sorted by path.
pub fn manifest_text(entries: &mut [(String, String)]) -> String {
    entries.sort_by(|a, b| a.1.cmp(&b.1));
    entries.iter().map(|(h, p)| format!("{h}  {}\n", encode_path(p))).collect()
}

/// RFC 8493 §2.1.3: CR, LF and % in paths are percent-encoded.
fn encode_path(p: &str) -> String {
    p.replace('%', "%25").replace('\n', "%0A").replace('\r', "%0D")
}

fn decode_path(p: &str) -> String {
    p.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_paths_with_percent_and_line_breaks() {
        let mut entries =
            vec![("bb".to_string(), "data/b 100%.jpg".to_string()), ("aa".to_string(), "data/a\nb.txt".to_string())];
        let text = manifest_text(&mut entries);
        assert_eq!(text, "aa  data/a%0Ab.txt\nbb  data/b 100%25.jpg\n");
        let parsed = parse_manifest(&text).unwrap();
        assert_eq!(parsed[0].1, "data/a\nb.txt");
        assert_eq!(parsed[1].1, "data/b 100%.jpg");
        assert!(parse_manifest("nohashline").is_err());
    }

    #[test]
    fn a_folder_bag_is_written_and_read_back_with_the_same_digests() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("bag");
        let mut w = FolderWriter::create(&root).unwrap();
        let written = w.write("data/x/y.bin", &mut &b"evidence"[..]).unwrap();
        w.write("bagit.txt", &mut &b"BagIt-Version: 1.0\n"[..]).unwrap();
        Box::new(w).finish().unwrap();
        assert!(FolderWriter::create(&root).is_err(), "an existing bag is never overwritten");
        let mut r = FolderReader::open(&root).unwrap();
        assert_eq!(r.files().unwrap(), vec!["bagit.txt".to_string(), "data/x/y.bin".to_string()]);
        assert_eq!(r.digest("data/x/y.bin").unwrap(), written);
        assert_eq!(written.sha256, hex::encode(Sha256::digest(b"evidence")));
        assert!(matches!(FolderReader::open(tmp.path()), Err(BundleError::NotABag(_))));
    }

    #[test]
    fn a_zip_bag_is_written_and_read_back_under_its_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("case.zip");
        let mut w = ZipBagWriter::create(&path, "case").unwrap();
        w.write("bagit.txt", &mut &b"BagIt-Version: 1.0\n"[..]).unwrap();
        let written = w.write("data/media/p.jpg", &mut &[7u8; 5000][..]).unwrap();
        Box::new(w).finish().unwrap();
        let mut r = ZipReader::open(&path).unwrap();
        assert_eq!(r.files().unwrap(), vec!["bagit.txt".to_string(), "data/media/p.jpg".to_string()]);
        assert_eq!(r.digest("data/media/p.jpg").unwrap(), written);
        std::fs::write(tmp.path().join("junk.zip"), b"not a zip").unwrap();
        assert!(matches!(ZipReader::open(&tmp.path().join("junk.zip")), Err(BundleError::Zip(_))));
    }
}
