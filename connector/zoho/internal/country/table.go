package country

// table lists each region as: alpha-2 code | alpha-3 code | English name |
// other names people type. Codes double as names, so "NL" and "NLD" work.
const table = `
AD|AND|Andorra
AE|ARE|United Arab Emirates|UAE|Emirates
AF|AFG|Afghanistan
AG|ATG|Antigua and Barbuda|Antigua
AI|AIA|Anguilla
AL|ALB|Albania|Shqiperia
AM|ARM|Armenia
AO|AGO|Angola
AR|ARG|Argentina
AS|ASM|American Samoa
AT|AUT|Austria|Osterreich|Oesterreich
AU|AUS|Australia
AW|ABW|Aruba
AX|ALA|Aland Islands|Aland
AZ|AZE|Azerbaijan
BA|BIH|Bosnia and Herzegovina|Bosnia
BB|BRB|Barbados
BD|BGD|Bangladesh
BE|BEL|Belgium|Belgie|Belgique|Belgien|Belgio
BF|BFA|Burkina Faso
BG|BGR|Bulgaria
BH|BHR|Bahrain
BI|BDI|Burundi
BJ|BEN|Benin
BL|BLM|Saint Barthelemy|St Barthelemy
BM|BMU|Bermuda
BN|BRN|Brunei|Brunei Darussalam
BO|BOL|Bolivia
BQ|BES|Bonaire|Caribbean Netherlands|Bonaire Sint Eustatius and Saba
BR|BRA|Brazil|Brasil
BS|BHS|Bahamas
BT|BTN|Bhutan
BW|BWA|Botswana
BY|BLR|Belarus
BZ|BLZ|Belize
CA|CAN|Canada
CC|CCK|Cocos Islands|Cocos Keeling Islands
CD|COD|Democratic Republic of the Congo|DR Congo|Congo Kinshasa|DRC
CF|CAF|Central African Republic
CG|COG|Republic of the Congo|Congo|Congo Brazzaville
CH|CHE|Switzerland|Schweiz|Suisse|Svizzera
CI|CIV|Cote d Ivoire|Cote dIvoire|Ivory Coast
CK|COK|Cook Islands
CL|CHL|Chile
CM|CMR|Cameroon
CN|CHN|China|PRC|People's Republic of China
CO|COL|Colombia
CR|CRI|Costa Rica
CU|CUB|Cuba
CV|CPV|Cape Verde|Cabo Verde
CW|CUW|Curacao
CX|CXR|Christmas Island
CY|CYP|Cyprus
CZ|CZE|Czech Republic|Czechia|Cesko
DE|DEU|Germany|Deutschland|Duitsland|Allemagne
DJ|DJI|Djibouti
DK|DNK|Denmark|Danmark|Denemarken
DM|DMA|Dominica
DO|DOM|Dominican Republic
DZ|DZA|Algeria
EC|ECU|Ecuador
EE|EST|Estonia|Eesti
EG|EGY|Egypt
EH|ESH|Western Sahara
ER|ERI|Eritrea
ES|ESP|Spain|Espana|Spanje|Espagne|Spanien
ET|ETH|Ethiopia
FI|FIN|Finland|Suomi
FJ|FJI|Fiji
FK|FLK|Falkland Islands|Falklands
FM|FSM|Micronesia|Federated States of Micronesia
FO|FRO|Faroe Islands|Faroes
FR|FRA|France|Frankreich|Frankrijk|Francia
GA|GAB|Gabon
GB|GBR|United Kingdom|UK|Great Britain|Britain|England|Scotland|Wales
GB|GBR|Northern Ireland|Verenigd Koninkrijk|Grossbritannien
GD|GRD|Grenada
GE|GEO|Georgia
GF|GUF|French Guiana
GG|GGY|Guernsey
GH|GHA|Ghana
GI|GIB|Gibraltar
GL|GRL|Greenland
GM|GMB|Gambia
GN|GIN|Guinea
GP|GLP|Guadeloupe
GQ|GNQ|Equatorial Guinea
GR|GRC|Greece|Hellas|Griekenland
GT|GTM|Guatemala
GU|GUM|Guam
GW|GNB|Guinea-Bissau
GY|GUY|Guyana
HK|HKG|Hong Kong
HN|HND|Honduras
HR|HRV|Croatia|Hrvatska
HT|HTI|Haiti
HU|HUN|Hungary|Magyarorszag
ID|IDN|Indonesia
IE|IRL|Ireland|Eire|Republic of Ireland|Ierland
IL|ISR|Israel
IM|IMN|Isle of Man
IN|IND|India|Bharat
IO|IOT|British Indian Ocean Territory
IQ|IRQ|Iraq
IR|IRN|Iran
IS|ISL|Iceland|Island
IT|ITA|Italy|Italia|Italie|Italien
JE|JEY|Jersey
JM|JAM|Jamaica
JO|JOR|Jordan
JP|JPN|Japan|Nippon
KE|KEN|Kenya
KG|KGZ|Kyrgyzstan
KH|KHM|Cambodia
KI|KIR|Kiribati
KM|COM|Comoros
KN|KNA|Saint Kitts and Nevis|St Kitts and Nevis
KP|PRK|North Korea|DPRK
KR|KOR|South Korea|Korea|Republic of Korea
KW|KWT|Kuwait
KY|CYM|Cayman Islands
KZ|KAZ|Kazakhstan
LA|LAO|Laos|Lao
LB|LBN|Lebanon
LC|LCA|Saint Lucia|St Lucia
LI|LIE|Liechtenstein
LK|LKA|Sri Lanka
LR|LBR|Liberia
LS|LSO|Lesotho
LT|LTU|Lithuania|Lietuva
LU|LUX|Luxembourg|Luxemburg
LV|LVA|Latvia|Latvija
LY|LBY|Libya
MA|MAR|Morocco|Maroc|Marokko
MC|MCO|Monaco
MD|MDA|Moldova
ME|MNE|Montenegro
MF|MAF|Saint Martin|St Martin
MG|MDG|Madagascar
MH|MHL|Marshall Islands
MK|MKD|North Macedonia|Macedonia
ML|MLI|Mali
MM|MMR|Myanmar|Burma
MN|MNG|Mongolia
MO|MAC|Macao|Macau
MP|MNP|Northern Mariana Islands
MQ|MTQ|Martinique
MR|MRT|Mauritania
MS|MSR|Montserrat
MT|MLT|Malta
MU|MUS|Mauritius
MV|MDV|Maldives
MW|MWI|Malawi
MX|MEX|Mexico
MY|MYS|Malaysia
MZ|MOZ|Mozambique
NA|NAM|Namibia
NC|NCL|New Caledonia
NE|NER|Niger
NF|NFK|Norfolk Island
NG|NGA|Nigeria
NI|NIC|Nicaragua
NL|NLD|Netherlands|Nederland|Holland|The Netherlands|Niederlande|Pays-Bas|Paises Bajos
NO|NOR|Norway|Norge|Noorwegen
NP|NPL|Nepal
NR|NRU|Nauru
NU|NIU|Niue
NZ|NZL|New Zealand|Aotearoa
OM|OMN|Oman
PA|PAN|Panama
PE|PER|Peru
PF|PYF|French Polynesia
PG|PNG|Papua New Guinea
PH|PHL|Philippines
PK|PAK|Pakistan
PL|POL|Poland|Polska|Polen
PM|SPM|Saint Pierre and Miquelon
PR|PRI|Puerto Rico
PS|PSE|Palestine|State of Palestine
PT|PRT|Portugal
PW|PLW|Palau
PY|PRY|Paraguay
QA|QAT|Qatar
RE|REU|Reunion
RO|ROU|Romania|Roemenie
RS|SRB|Serbia|Srbija
RU|RUS|Russia|Russian Federation
RW|RWA|Rwanda
SA|SAU|Saudi Arabia|KSA
SB|SLB|Solomon Islands
SC|SYC|Seychelles
SD|SDN|Sudan
SE|SWE|Sweden|Sverige|Zweden|Schweden
SG|SGP|Singapore
SH|SHN|Saint Helena|St Helena
SI|SVN|Slovenia|Slovenija
SJ|SJM|Svalbard and Jan Mayen|Svalbard
SK|SVK|Slovakia|Slovensko
SL|SLE|Sierra Leone
SM|SMR|San Marino
SN|SEN|Senegal
SO|SOM|Somalia
SR|SUR|Suriname
SS|SSD|South Sudan
ST|STP|Sao Tome and Principe
SV|SLV|El Salvador
SX|SXM|Sint Maarten
SY|SYR|Syria
SZ|SWZ|Eswatini|Swaziland
TC|TCA|Turks and Caicos Islands
TD|TCD|Chad
TG|TGO|Togo
TH|THA|Thailand
TJ|TJK|Tajikistan
TK|TKL|Tokelau
TL|TLS|Timor-Leste|East Timor
TM|TKM|Turkmenistan
TN|TUN|Tunisia
TO|TON|Tonga
TR|TUR|Turkey|Turkiye|Turkije
TT|TTO|Trinidad and Tobago|Trinidad
TV|TUV|Tuvalu
TW|TWN|Taiwan
TZ|TZA|Tanzania
UA|UKR|Ukraine
UG|UGA|Uganda
US|USA|United States|United States of America|America|U S A|U S
UY|URY|Uruguay
UZ|UZB|Uzbekistan
VA|VAT|Vatican City|Holy See|Vatican
VC|VCT|Saint Vincent and the Grenadines|St Vincent and the Grenadines
VE|VEN|Venezuela
VG|VGB|British Virgin Islands
VI|VIR|US Virgin Islands|United States Virgin Islands
VN|VNM|Vietnam|Viet Nam
VU|VUT|Vanuatu
WF|WLF|Wallis and Futuna
WS|WSM|Samoa
XK|XKX|Kosovo
YE|YEM|Yemen
YT|MYT|Mayotte
ZA|ZAF|South Africa
ZM|ZMB|Zambia
ZW|ZWE|Zimbabwe
`
