package locale

import (
	"fmt"
	"strings"
)

// errorTexts translates the validation messages the API gives in English
// (field errors of the form and the portal), keyed by that English text, so
// the API keeps one vocabulary and the pages show the requester's language.
var errorTexts = map[string][3]string{
	"enter your first name":                        {"Bitte geben Sie Ihren Vornamen ein", "veuillez saisir votre prénom", "introduzca su nombre"},
	"enter your last name":                         {"Bitte geben Sie Ihren Nachnamen ein", "veuillez saisir votre nom", "introduzca sus apellidos"},
	"enter your email address":                     {"Bitte geben Sie Ihre E-Mail-Adresse ein", "veuillez saisir votre adresse e-mail", "introduzca su dirección de correo electrónico"},
	"enter a description of your request":          {"Bitte beschreiben Sie Ihre Anfrage", "veuillez décrire votre demande", "describa su solicitud"},
	"is not valid text":                            {"ist kein gültiger Text", "n'est pas un texte valide", "no es un texto válido"},
	"must be a single line of text":                {"darf nur eine Zeile Text enthalten", "doit tenir sur une seule ligne", "debe ser una sola línea de texto"},
	"enter an email address like name@example.com": {"Bitte geben Sie eine E-Mail-Adresse wie name@example.com ein", "veuillez saisir une adresse e-mail du type nom@example.com", "introduzca una dirección de correo electrónico como nombre@example.com"},
	"holds characters that are not text":           {"enthält Zeichen, die kein Text sind", "contient des caractères qui ne sont pas du texte", "contiene caracteres que no son texto"},
	"choose your country of residence":             {"Bitte wählen Sie Ihr Wohnsitzland", "veuillez choisir votre pays de résidence", "elija su país de residencia"},
	"is not an ISO 3166-1 country code":            {"ist kein Ländercode nach ISO 3166-1", "n'est pas un code pays ISO 3166-1", "no es un código de país ISO 3166-1"},
	"is not a subdivision of the chosen country (ISO 3166-2, like US-CA)": {"ist kein Landesteil des gewählten Landes (ISO 3166-2, z. B. US-CA)",
		"n'est pas une subdivision du pays choisi (ISO 3166-2, par exemple US-CA)", "no es una subdivisión del país elegido (ISO 3166-2, como US-CA)"},
	"choose customer, employee or other":      {"Bitte wählen Sie Kunde/Kundin, Mitarbeiter/Mitarbeiterin oder Sonstiges", "veuillez choisir client(e), salarié(e) ou autre", "elija cliente, empleado/a u otro"},
	"choose the type of request":              {"Bitte wählen Sie die Art der Anfrage", "veuillez choisir le type de demande", "elija el tipo de solicitud"},
	"solve the captcha (it needs JavaScript)": {"Bitte lösen Sie die Spam-Schutzprüfung (sie benötigt JavaScript)", "veuillez résoudre la vérification anti-spam (elle nécessite JavaScript)", "resuelva la comprobación antispam (necesita JavaScript)"},
	"this captcha was already used; solve a new one": {"Diese Spam-Schutzprüfung wurde bereits verwendet; bitte lösen Sie eine neue",
		"cette vérification anti-spam a déjà été utilisée ; veuillez en résoudre une nouvelle", "esta comprobación antispam ya se ha utilizado; resuelva una nueva"},
	"attach a photo or scan of an identity document (JPEG, PNG or PDF)": {"Bitte fügen Sie ein Foto oder einen Scan eines Ausweisdokuments bei (JPEG, PNG oder PDF)",
		"veuillez joindre une photo ou un scan d'une pièce d'identité (JPEG, PNG ou PDF)", "adjunte una foto o un escaneo de un documento de identidad (JPEG, PNG o PDF)"},
}

// Error is an English validation message in language l: the catalog's
// translation, "must be at most N characters" with N written for l, or
// the English text itself when none is known.
func Error(l Lang, english string) string {
	i := index(l.Or())
	if i == 0 {
		return english
	}
	if t, ok := errorTexts[english]; ok {
		return t[i-1]
	}
	var n int
	if _, err := fmt.Sscanf(english, "must be at most %d characters", &n); err == nil && strings.HasSuffix(english, "characters") {
		return T(l, "error.max_chars", n)
	}
	return english
}

// ErrorKnown reports whether an English validation message has its
// translations, for tests.
func ErrorKnown(english string) bool {
	if _, ok := errorTexts[english]; ok {
		return true
	}
	var n int
	_, err := fmt.Sscanf(english, "must be at most %d characters", &n)
	return err == nil
}
