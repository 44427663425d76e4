package blobstore

import (
	"encoding/base64"
	"encoding/xml"
	"net/url"
	"strings"
)

// The XML shapes of Azure's list responses; element names follow
// https://learn.microsoft.com/rest/api/storageservices/list-blobs and
// list-containers2.

type enumBlobsXML struct {
	XMLName         xml.Name `xml:"EnumerationResults"`
	ServiceEndpoint string   `xml:"ServiceEndpoint,attr"`
	ContainerName   string   `xml:"ContainerName,attr"`
	Prefix          *string  `xml:"Prefix"`
	Marker          *string  `xml:"Marker"`
	MaxResults      *int     `xml:"MaxResults"`
	Delimiter       *string  `xml:"Delimiter"`
	Blobs           blobsXML `xml:"Blobs"`
	NextMarker      string   `xml:"NextMarker"`
}

type blobsXML struct {
	Blob       []blobXML   `xml:"Blob"`
	BlobPrefix []prefixXML `xml:"BlobPrefix"`
}

type prefixXML struct {
	Name string `xml:"Name"`
}

type blobXML struct {
	Name       string       `xml:"Name"`
	Properties blobPropsXML `xml:"Properties"`
	Metadata   *metadataXML `xml:"Metadata"`
}

type blobPropsXML struct {
	CreationTime  string `xml:"Creation-Time"`
	LastModified  string `xml:"Last-Modified"`
	Etag          string `xml:"Etag"`
	ContentLength int64  `xml:"Content-Length"`
	ContentType   string `xml:"Content-Type"`
	ContentMD5    string `xml:"Content-MD5"`
	BlobType      string `xml:"BlobType"`
	AccessTier    string `xml:"AccessTier"`
	LeaseStatus   string `xml:"LeaseStatus"`
	LeaseState    string `xml:"LeaseState"`
	ServerEnc     bool   `xml:"ServerEncrypted"`
}

// metadataXML renders user metadata as <Metadata><name>value</name>...;
// names are identifiers (validMetadata), so valid element names.
type metadataXML map[string]string

func (m metadataXML) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, k := range sortedNames(m) {
		if err := e.EncodeElement(m[k], xml.StartElement{Name: xml.Name{Local: k}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// given returns a pointer to q's value of key when the request gave it, so
// that Azure's echo of request parameters appears only when sent.
func given(q url.Values, key string) *string {
	if _, ok := q[key]; !ok {
		return nil
	}
	v := q.Get(key)
	return &v
}

func blobListXML(ep, container string, q url.Values, o ListOptions, page BlobPage, withMeta bool) enumBlobsXML {
	out := enumBlobsXML{ServiceEndpoint: ep, ContainerName: container, Prefix: given(q, "prefix"),
		Marker: given(q, "marker"), Delimiter: given(q, "delimiter"), NextMarker: page.NextMarker}
	if o.MaxResults > 0 {
		out.MaxResults = &o.MaxResults
	}
	for _, p := range page.Blobs {
		b := blobXML{Name: p.Name, Properties: blobPropsXML{
			CreationTime: httpTime(p.CreationTime), LastModified: httpTime(p.LastModified),
			Etag: strings.Trim(p.ETag, `"`), ContentLength: p.ContentLength, ContentType: p.ContentType,
			ContentMD5: base64.StdEncoding.EncodeToString(p.ContentMD5), BlobType: "BlockBlob",
			AccessTier: "Hot", LeaseStatus: "unlocked", LeaseState: "available",
		}}
		if withMeta {
			md := metadataXML(p.Metadata)
			if md == nil {
				md = metadataXML{}
			}
			b.Metadata = &md
		}
		out.Blobs.Blob = append(out.Blobs.Blob, b)
	}
	for _, p := range page.Prefixes {
		out.Blobs.BlobPrefix = append(out.Blobs.BlobPrefix, prefixXML{Name: p})
	}
	return out
}

type enumContainersXML struct {
	XMLName         xml.Name       `xml:"EnumerationResults"`
	ServiceEndpoint string         `xml:"ServiceEndpoint,attr"`
	Prefix          *string        `xml:"Prefix"`
	Marker          *string        `xml:"Marker"`
	MaxResults      *int           `xml:"MaxResults"`
	Containers      []containerXML `xml:"Containers>Container"`
	NextMarker      string         `xml:"NextMarker"`
}

type containerXML struct {
	Name       string `xml:"Name"`
	Properties struct {
		LastModified string `xml:"Last-Modified"`
		Etag         string `xml:"Etag"`
		LeaseStatus  string `xml:"LeaseStatus"`
		LeaseState   string `xml:"LeaseState"`
	} `xml:"Properties"`
}

func containerListXML(ep string, q url.Values, o ListOptions, page ContainerPage) enumContainersXML {
	out := enumContainersXML{ServiceEndpoint: ep, Prefix: given(q, "prefix"), Marker: given(q, "marker"), NextMarker: page.NextMarker}
	if o.MaxResults > 0 {
		out.MaxResults = &o.MaxResults
	}
	out.Containers = []containerXML{}
	for _, c := range page.Containers {
		var x containerXML
		x.Name = c.Name
		x.Properties.LastModified = httpTime(c.LastModified)
		x.Properties.Etag = strings.Trim(c.ETag, `"`)
		x.Properties.LeaseStatus, x.Properties.LeaseState = "unlocked", "available"
		out.Containers = append(out.Containers, x)
	}
	return out
}

type blockListRespXML struct {
	XMLName     xml.Name   `xml:"BlockList"`
	Committed   []blockXML `xml:"CommittedBlocks>Block"`
	Uncommitted []blockXML `xml:"UncommittedBlocks>Block"`
}

type blockXML struct {
	Name string `xml:"Name"`
	Size int64  `xml:"Size"`
}

func blockListXML(bl BlockList) blockListRespXML {
	var out blockListRespXML
	for _, b := range bl.Committed {
		out.Committed = append(out.Committed, blockXML{b.ID, b.Size})
	}
	for _, b := range bl.Uncommitted {
		out.Uncommitted = append(out.Uncommitted, blockXML{b.ID, b.Size})
	}
	return out
}

// UnmarshalXML reads what MarshalXML writes (tests and clients of the
// shape).
func (m *metadataXML) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	*m = metadataXML{}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var v string
			if err := d.DecodeElement(&v, &t); err != nil {
				return err
			}
			(*m)[t.Name.Local] = v
		case xml.EndElement:
			return nil
		}
	}
}
