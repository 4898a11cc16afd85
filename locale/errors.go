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
	// The portal's notices and errors (server/portal.go, portal_signin.go,
	// withdraw.go, messages.go), shown on its pages through tr.
	"Please correct the fields marked below.": {"Bitte korrigieren Sie die unten markierten Felder.", "Veuillez corriger les champs signalés ci-dessous.", "Corrija los campos marcados a continuación."},
	"Something went wrong on our side. Please try again in a moment.": {"Bei uns ist ein Fehler aufgetreten. Bitte versuchen Sie es in einem Moment erneut.",
		"Une erreur s'est produite de notre côté. Veuillez réessayer dans un instant.", "Se ha producido un error por nuestra parte. Vuelva a intentarlo en unos momentos."},
	"You have logged out.": {"Sie haben sich abgemeldet.", "Vous êtes déconnecté(e).", "Ha cerrado la sesión."},
	"This link is not valid. Check that you copied the whole address from the email.": {"Dieser Link ist ungültig. Bitte prüfen Sie, ob Sie die vollständige Adresse aus der E-Mail kopiert haben.",
		"Ce lien n'est pas valide. Vérifiez que vous avez copié l'adresse complète figurant dans l'e-mail.", "Este enlace no es válido. Compruebe que ha copiado la dirección completa del correo electrónico."},
	"This link has expired or has already been used. If you already set a password, log in.": {"Dieser Link ist abgelaufen oder wurde bereits verwendet. Falls Sie bereits ein Passwort festgelegt haben, melden Sie sich an.",
		"Ce lien a expiré ou a déjà été utilisé. Si vous avez déjà défini un mot de passe, connectez-vous.", "Este enlace ha caducado o ya se ha utilizado. Si ya ha establecido una contraseña, inicie sesión."},
	"This sign-in link is not valid. Check that you opened the whole link from the email, or ask for a new one below.": {"Dieser Anmeldelink ist ungültig. Bitte prüfen Sie, ob Sie den vollständigen Link aus der E-Mail geöffnet haben, oder fordern Sie unten einen neuen an.",
		"Ce lien de connexion n'est pas valide. Vérifiez que vous avez ouvert le lien complet figurant dans l'e-mail, ou demandez-en un nouveau ci-dessous.",
		"Este enlace de inicio de sesión no es válido. Compruebe que ha abierto el enlace completo del correo electrónico o solicite uno nuevo a continuación."},
	"This sign-in link has expired or has already been used. Ask for a new one below.": {"Dieser Anmeldelink ist abgelaufen oder wurde bereits verwendet. Fordern Sie unten einen neuen an.",
		"Ce lien de connexion a expiré ou a déjà été utilisé. Demandez-en un nouveau ci-dessous.", "Este enlace de inicio de sesión ha caducado o ya se ha utilizado. Solicite uno nuevo a continuación."},
	"Your request is withdrawn. If you had confirmed your email address, we have also sent you a confirmation there.": {
		"Ihre Anfrage ist zurückgezogen. Falls Sie Ihre E-Mail-Adresse bestätigt hatten, haben wir Ihnen auch dorthin eine Bestätigung gesendet.",
		"Votre demande est retirée. Si vous aviez confirmé votre adresse e-mail, nous vous y avons également envoyé une confirmation.",
		"Su solicitud se ha retirado. Si había confirmado su dirección de correo electrónico, también le hemos enviado allí una confirmación."},
	"Your message has been sent.": {"Ihre Nachricht wurde gesendet.", "Votre message a été envoyé.", "Su mensaje se ha enviado."},
	"You":                         {"Sie", "Vous", "Usted"},
	"Privacy team":                {"Datenschutzteam", "Équipe chargée de la protection des données", "Equipo de privacidad"},
	"the email address or the password is wrong": {"Die E-Mail-Adresse oder das Passwort ist falsch.", "L'adresse e-mail ou le mot de passe est incorrect.", "La dirección de correo electrónico o la contraseña no son correctas."},
	"too many attempts; try again later":         {"Zu viele Versuche; bitte versuchen Sie es später erneut.", "Trop de tentatives ; veuillez réessayer plus tard.", "Demasiados intentos; vuelva a intentarlo más tarde."},
	"is required":                                {"ist erforderlich", "est obligatoire", "es obligatorio"},
	"must be at least 8 characters":              {"muss mindestens 8 Zeichen lang sein", "doit comporter au moins 8 caractères", "debe tener al menos 8 caracteres"},
	"does not match the password":                {"stimmt nicht mit dem Passwort überein", "ne correspond pas au mot de passe", "no coincide con la contraseña"},
	"tick the box to confirm that you want to withdraw the request": {"Bitte setzen Sie das Häkchen, um zu bestätigen, dass Sie die Anfrage zurückziehen möchten",
		"cochez la case pour confirmer que vous souhaitez retirer la demande", "marque la casilla para confirmar que desea retirar la solicitud"},
	"must be UTF-8 text":                            {"muss UTF-8-Text sein", "doit être un texte UTF-8", "debe ser texto UTF-8"},
	"must not be empty":                             {"darf nicht leer sein", "ne doit pas être vide", "no puede estar vacío"},
	"a file is empty":                               {"eine Datei ist leer", "un fichier est vide", "un archivo está vacío"},
	"an attachment is too large":                    {"Ein Anhang ist zu groß.", "Une pièce jointe est trop volumineuse.", "Un archivo adjunto es demasiado grande."},
	"an attachment cannot be read":                  {"Ein Anhang kann nicht gelesen werden.", "Une pièce jointe ne peut pas être lue.", "No se puede leer un archivo adjunto."},
	"an attachment has a type that is not accepted": {"Ein Anhang hat einen nicht zulässigen Dateityp.", "Une pièce jointe est d'un type non accepté.", "Un archivo adjunto tiene un tipo no admitido."},
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
