package eskeystore

// SetFile stores the content of a file under name, as elasticsearch-keystore
// add-file does (KeyStoreWrapper.setFile). It is Set, except that in a version 3
// keystore, whose entries carry a type, the entry is written as a FILE entry:
// Elasticsearch 6.3 to 6.7 reads a file setting only from a FILE entry. Later
// versions dropped the type, so there the two are the same.
func (k *Keystore) SetFile(name string, value []byte) error {
	if err := k.Set(name, value); err != nil {
		return err
	}
	e := k.entries[name]
	e.kind = typeFile
	k.entries[name] = e
	return nil
}
